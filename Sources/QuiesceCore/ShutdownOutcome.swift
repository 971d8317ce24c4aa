/// Work that was still running when the agent was forced to stop.
public struct InterruptedWork: Sendable, Hashable {
    /// The work source ("sessions", "sync").
    public var source: String
    public var count: Int
    public var items: [String]

    public init(source: String, count: Int, items: [String]) {
        self.source = source
        self.count = count
        self.items = items
    }
}

/// How the agent ended. Maps onto the exit status of the brief.
public enum ShutdownOutcome: Sendable, Hashable, CustomStringConvertible {
    /// Every piece of work ended before the stop: exit 0.
    case clean
    /// Stopped with work still running: exit 3. Interrupted copies return to the queue.
    case forced(interrupted: [InterruptedWork])
    /// A component did not start: exit 1. What had started was stopped again.
    case failedToStart(component: String, error: String)

    /// 0 clean, 3 forced with work interrupted, 1 failure to start.
    public var exitStatus: Int32 {
        switch self {
        case .clean: 0
        case .forced: 3
        case .failedToStart: 1
        }
    }

    public var description: String {
        switch self {
        case .clean:
            return "clean"
        case .forced(let interrupted):
            let list = interrupted.map { "\($0.source): \($0.count)" }.joined(separator: ", ")
            return "forced, interrupting \(list)"
        case .failedToStart(let component, let error):
            return "\(component) failed to start: \(error)"
        }
    }
}

/// Everything `run()` reports at the end.
public struct ShutdownResult: Sendable {
    public var outcome: ShutdownOutcome
    /// How each component stopped, in stop order.
    public var teardown: TeardownReport
}
