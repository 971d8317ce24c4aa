/// The coordinator's state, one case a phase, each carrying the data that phase needs.
///
/// Illegal transitions cannot be written: every phase type's initializer is `fileprivate`, so the
/// only way to get, say, a ``Draining`` is to call ``Running/drain(quit:)`` on a ``Running`` or
/// ``Prompting/wait(deadline:)`` on a ``Prompting``. `stopping` is reachable from `running`,
/// `draining` and `prompting`; `stopped` only from `stopping`; nothing leaves `stopped` or
/// `failed`.
enum MachineState<Instant: InstantProtocol> where Instant.Duration == Duration {
    case starting(Starting)
    case running(Running)
    case draining(Draining<Instant>)
    case prompting(Prompting<Instant>)
    case stopping(Stopping)
    case stopped(Stopped)
    case failed(Failed)

    /// Where every coordinator begins.
    static var initial: Self { .starting(Starting()) }

    var phase: Phase {
        switch self {
        case .starting: .starting
        case .running: .running
        case .draining: .draining
        case .prompting: .prompting
        case .stopping: .stopping
        case .stopped: .stopped
        case .failed: .failed
        }
    }
}

/// A trigger that arrived before start completed, with the hold handed out for it.
struct DeferredTrigger: Sendable {
    var trigger: Trigger
    var hold: SystemHold?
}

/// A quit in progress: its window, deadline and how many Waits it has had.
struct QuitDrain<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The trigger that set the current deadline.
    var trigger: Trigger
    /// The window of that trigger: a Wait grants this much again.
    var window: Duration
    var deadline: Instant
    var deadlinePassed = false
    var waits = 0
}

/// Whether the agent stops with all work done or cuts it off.
enum StopDecision: Sendable, Hashable {
    case clean
    case forced
}

struct Starting: Sendable {
    var deferred: [DeferredTrigger] = []

    fileprivate init() {}

    func started() -> Running { Running() }
    func failed(component: String, error: String) -> Failed { Failed(component: component, error: error) }
}

struct Running: Sendable {
    fileprivate init() {}

    /// A quit, or (with `quit == nil`) a system shutdown hold, closes admission.
    func drain<Instant>(quit: QuitDrain<Instant>?) -> Draining<Instant> { Draining(quit: quit) }
    func stop(_ decision: StopDecision) -> Stopping { Stopping(decision: decision) }
}

struct Draining<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The quit being drained; `nil` while draining only for a system shutdown, which does not
    /// end the agent by itself.
    var quit: QuitDrain<Instant>?

    fileprivate init(quit: QuitDrain<Instant>?) {
        self.quit = quit
    }

    func prompt(_ quit: QuitDrain<Instant>) -> Prompting<Instant> { Prompting(quit: quit) }
    func stop(_ decision: StopDecision) -> Stopping { Stopping(decision: decision) }
    /// The system shutdown was cancelled and no quit was asked: take work again.
    func resume() -> Running { Running() }
}

struct Prompting<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    var quit: QuitDrain<Instant>

    fileprivate init(quit: QuitDrain<Instant>) {
        self.quit = quit
    }

    /// The user chose Wait (or dismissed the prompt): a fresh window until `deadline`.
    func wait(deadline: Instant) -> Draining<Instant> {
        var next = quit
        next.deadline = deadline
        next.deadlinePassed = false
        next.waits += 1
        return Draining(quit: next)
    }

    func stop(_ decision: StopDecision) -> Stopping { Stopping(decision: decision) }
}

struct Stopping: Sendable {
    let decision: StopDecision

    fileprivate init(decision: StopDecision) {
        self.decision = decision
    }

    func finished() -> Stopped { Stopped() }
}

struct Stopped: Sendable {
    fileprivate init() {}
}

struct Failed: Sendable {
    let component: String
    let error: String

    fileprivate init(component: String, error: String) {
        self.component = component
        self.error = error
    }
}
