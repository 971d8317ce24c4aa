import Synchronization

/// Runs work one pass at a time, and once more after a pass for whatever was asked meanwhile, however
/// much: what re-reads the job counts and what re-takes the logout inhibitor need, each pass
/// reading the latest state.
final class Coalescer: Sendable {
    private let state = Mutex<(running: Bool, again: Bool)>((false, false))
    /// Rest after each pass before the next: at most one pass per `pause` while requests keep coming.
    private let pause: Duration?

    init(pause: Duration? = nil) {
        self.pause = pause
    }

    /// Runs `pass` now, or once more after the pass under way.
    func request(_ pass: @escaping @Sendable () async -> Void) {
        let start = state.withLock { state -> Bool in
            guard !state.running else {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        guard start else { return }
        Task {
            repeat {
                state.withLock { $0.again = false }
                await pass()
                if let pause { try? await Task.sleep(for: pause) }
            } while state.withLock { state in
                if state.again { return true }
                state.running = false
                return false
            }
        }
    }
}
