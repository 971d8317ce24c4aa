/// How one component's stop went.
public struct ComponentStop: Sendable, Hashable {
    public enum Result: Sendable, Hashable, CustomStringConvertible {
        case stopped
        /// `stop()` threw; the message is the error's.
        case failed(String)
        /// `stop()` outran its stop timeout; it was cancelled and teardown went on.
        case timedOut
        /// The hard exit deadline passed while this component was stopping.
        case hung
        /// The hard exit deadline passed before this component's turn.
        case notReached

        public var description: String {
            switch self {
            case .stopped: "stopped"
            case .failed(let message): "failed: \(message)"
            case .timedOut: "timed out"
            case .hung: "hung past the hard exit deadline"
            case .notReached: "not reached before the hard exit deadline"
            }
        }
    }

    public var name: String
    public var result: Result

    public init(name: String, result: Result) {
        self.name = name
        self.result = result
    }
}

/// What teardown did, component by component, in stop (reverse start) order.
public struct TeardownReport: Sendable, Hashable {
    public var components: [ComponentStop] = []

    /// The component that was stopping when the hard exit deadline passed: the process must exit
    /// now, and the log names this one.
    public var hungComponent: String? {
        components.first { $0.result == .hung }?.name
    }
}

/// Stops `components` in reverse order, each within its stop timeout, all within `hardDeadline`.
///
/// A component that outruns its own timeout is cancelled and left behind; teardown goes on with
/// the next. When the hard deadline passes, teardown returns at once, naming the component it was
/// waiting for: the caller exits the process even though that component never returned.
func tearDown<C: Clock>(
    _ components: [any Component],
    clock: C,
    stopTimeout: Duration,
    hardDeadline: C.Instant,
    isolation: isolated (any Actor)? = #isolation,
    stopped: (ComponentStop) -> Void
) async -> TeardownReport where C.Duration == Duration {
    var report = TeardownReport()
    var remaining = components.reversed()[...]
    while let component = remaining.popFirst() {
        let ownLimit = clock.now.advanced(by: component.stopTimeout ?? stopTimeout)
        let limit = min(ownLimit, hardDeadline)
        let result: ComponentStop.Result
        switch await race(clock: clock, until: limit, { try await component.stop() }) {
        case .finished(.success):
            result = .stopped
        case .finished(.failure(let error)):
            result = .failed("\(error)")
        case .timedOut where limit == hardDeadline:
            result = .hung
        case .timedOut:
            result = .timedOut
        }
        let stop = ComponentStop(name: component.name, result: result)
        report.components.append(stop)
        stopped(stop)
        if result == .hung {
            for skipped in remaining {
                report.components.append(ComponentStop(name: skipped.name, result: .notReached))
            }
            break
        }
    }
    return report
}
