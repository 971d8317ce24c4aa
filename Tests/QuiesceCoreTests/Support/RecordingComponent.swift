import QuiesceCore

/// A component that writes its starts and stops to a shared log; it can fail to start or hang on
/// stop.
struct RecordingComponent: Component {
    enum Behaviour: Sendable {
        case normal
        case failsToStart
        /// Never returns from `stop()`, not even when cancelled.
        case hangsOnStop
        /// Returns from `stop()` only when cancelled.
        case stopsWhenCancelled
        /// `stop()` throws.
        case failsToStop
    }

    let name: String
    let log: Recorder<String>
    var behaviour: Behaviour = .normal
    var stopTimeout: Duration?

    struct StopFailure: Error, CustomStringConvertible {
        var description: String { "the test told it to fail its stop" }
    }

    struct StartFailure: Error, CustomStringConvertible {
        var description: String { "the test told it to fail" }
    }

    func start() async throws {
        if behaviour == .failsToStart { throw StartFailure() }
        log.append("start \(name)")
    }

    func stop() async throws {
        log.append("stop \(name)")
        switch behaviour {
        case .hangsOnStop:
            await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
        case .stopsWhenCancelled:
            try? await Task.sleep(for: .seconds(3600))
            log.append("\(name) cancelled")
        case .failsToStop:
            throw StopFailure()
        case .normal, .failsToStart:
            break
        }
    }
}
