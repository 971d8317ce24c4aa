import Synchronization

/// The method handlers of a connection that are running now, so a service on its way out can
/// wait until every call it took in has been answered. A reply handed to libdbus is written at
/// the latest when the connection closes (`close()` flushes); one still being computed would be
/// lost, and its caller would see the agent vanish instead of the answer (`agentctl quit` exited 1
/// when the agent's exit overtook its own reply to `Quit`).
final class HandlersInProgress: Sendable {
    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func begin() {
        state.withLock { $0.running += 1 }
    }

    func end() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.running -= 1
            guard state.running == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when no handler runs (at once if none does).
    func finished() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state in
                guard state.running > 0 else { return true }
                state.waiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}
