/// The protocol's state, one case a phase, each carrying the data that phase needs and nothing
/// else: the drain (its deadline, the Wait window, rule 10's ceilings) exists only while draining
/// or prompting, the prompt round only while prompting, the system holds only while the agent is
/// up. So "a prompt round while running" or "a deadline while stopped" cannot be written.
///
/// Illegal moves cannot be written either: every phase type's initializer is `fileprivate`, so the
/// only way to get, say, a ``Prompting`` is ``Draining/prompt(_:round:)`` on a ``Draining``.
/// `stopping` is reachable from `running`, `draining` and `prompting`; `stopped` only from
/// `stopping`; nothing leaves `stopped` or `failed`.
enum MachineState<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    case starting(Starting)
    case running(Running<Instant>)
    case draining(Draining<Instant>)
    case prompting(Prompting<Instant>)
    case stopping(Stopping)
    case stopped(Stopped)
    case failed(Failed)

    /// Where every machine begins.
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

    /// The drain under way, while draining (when a quit or a session end stands behind it) or
    /// prompting.
    var drain: Drain<Instant>? {
        switch self {
        case .draining(let draining): draining.drain
        case .prompting(let prompting): prompting.drain
        default: nil
        }
    }

    /// The system delays held, while the agent is up.
    var holds: Holds<Instant>? {
        switch self {
        case .running(let running): running.holds
        case .draining(let draining): draining.holds
        case .prompting(let prompting): prompting.holds
        default: nil
        }
    }

    /// Replaces the holds of a phase that has them; the others have none to replace.
    mutating func setHolds(_ holds: Holds<Instant>) {
        switch self {
        case .running(var running):
            running.holds = holds
            self = .running(running)
        case .draining(var draining):
            draining.holds = holds
            self = .draining(draining)
        case .prompting(var prompting):
            prompting.holds = holds
            self = .prompting(prompting)
        default:
            break
        }
    }
}

/// Where a rule-10 ceiling came from: a cancelled end of session takes its own away, a SIGTERM's
/// stays.
enum CeilingSource: Sendable, Hashable {
    /// The first SIGTERM: `sigterm_timeout` + `answer_timeout` after it.
    case signal
    /// The desktop's end of session: `quit_timeout` + `answer_timeout` after `EndSession`.
    case sessionEnd
}

/// A drain toward a decision: the deadline at which the user is asked, what a Wait grants, and
/// the ceilings by which the agent must have decided (rule 10).
struct Drain<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The trigger that set the current deadline.
    var trigger: Trigger
    /// The window of that trigger: a Wait grants this much again (never past the ceiling).
    var window: Duration
    /// When the prompt shows if work still runs.
    var deadline: Instant
    /// How many times the user answered Wait (or dismissed the prompt).
    var waits = 0
    /// Rule 10: by the earliest of these the agent has decided, clean or forced. Empty for a quit
    /// the user asked for at the agent: the person is there, and the prompt waits for them.
    var ceilings: [CeilingSource: Instant] = [:]
    /// Whether idle ends the agent (a quit) or only lets the desktop go on (an end of session
    /// alone: the agent answers the session manager and stays up until `Stop` or SIGTERM).
    var stopsWhenIdle: Bool

    /// The ceiling in force.
    var ceiling: Instant? { ceilings.values.min() }
}

/// A system transition the agent is holding up, and whether it has let go yet.
struct Delay<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// When the system goes on regardless; `nil` for the end of session, whose drain has the
    /// deadline and the ceiling.
    var deadline: Instant?
    /// Set once the hold is resolved. The delay stays recorded until the system resumes, so the
    /// agent knows to re-take its lock then (and keeps claims closed across a sleep).
    var release: HoldRelease?

    var isHeld: Bool { release == nil }
}

/// The delays held now, by kind.
struct Holds<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    var shutdown: Delay<Instant>?
    var sleep: Delay<Instant>?
    var sessionEnd: Delay<Instant>?

    subscript(kind: SystemHoldKind) -> Delay<Instant>? {
        get {
            switch kind {
            case .shutdown: shutdown
            case .sleep: sleep
            case .sessionEnd: sessionEnd
            }
        }
        set {
            switch kind {
            case .shutdown: shutdown = newValue
            case .sleep: sleep = newValue
            case .sessionEnd: sessionEnd = newValue
            }
        }
    }

    /// Kinds held and not yet released.
    var held: [SystemHoldKind] { SystemHoldKind.allCases.filter { self[$0]?.isHeld == true } }
}

/// One showing of the question on every prompt.
struct PromptRound: Sendable, Hashable {
    let id: Int
    var question: PromptQuestion
    /// The prompts still asking, by index.
    var asking: Set<Int>
    /// The prompts that said they cannot ask.
    var unavailable: Set<Int> = []
}

/// Whether the agent stops with all work done or cuts it off.
enum StopDecision: Sendable, Hashable {
    case clean
    case forced
}

struct Starting: Sendable {
    /// Triggers that arrived before start completed (rule 7), carried out in order once it has.
    var deferred: [Trigger] = []

    fileprivate init() {}

    func started<Instant>() -> Running<Instant> { Running(holds: Holds()) }
    func failed(component: String, error: String) -> Failed { Failed(component: component, error: error) }
}

struct Running<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    var holds: Holds<Instant>

    fileprivate init(holds: Holds<Instant>) {
        self.holds = holds
    }

    /// A quit or an end of session (`drain`), or a system shutdown alone (`nil`), closes admission.
    func drain(_ drain: Drain<Instant>?) -> Draining<Instant> { Draining(drain: drain, holds: holds) }
    func stop(_ decision: StopDecision) -> Stopping { Stopping(decision: decision) }
}

struct Draining<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// `nil` while draining only for a system shutdown, or after an end of session found the agent
    /// idle: nothing ends the agent by itself then, the SIGTERM or `Stop` that follows does.
    var drain: Drain<Instant>?
    var holds: Holds<Instant>

    fileprivate init(drain: Drain<Instant>?, holds: Holds<Instant>) {
        self.drain = drain
        self.holds = holds
    }

    func prompt(_ drain: Drain<Instant>, round: PromptRound) -> Prompting<Instant> {
        Prompting(drain: drain, round: round, holds: holds)
    }
    func stop(_ decision: StopDecision) -> Stopping { Stopping(decision: decision) }
    /// The system shutdown or the end of session was called off and no quit was asked: take work
    /// again.
    func resume() -> Running<Instant> { Running(holds: holds) }
}

struct Prompting<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    var drain: Drain<Instant>
    var round: PromptRound
    var holds: Holds<Instant>

    fileprivate init(drain: Drain<Instant>, round: PromptRound, holds: Holds<Instant>) {
        self.drain = drain
        self.round = round
        self.holds = holds
    }

    /// The user chose Wait (or dismissed the prompt): a fresh window until `deadline`.
    func wait(until deadline: Instant) -> Draining<Instant> {
        var next = drain
        next.deadline = deadline
        next.waits += 1
        return Draining(drain: next, holds: holds)
    }

    /// An end of session alone found the agent idle while asking: the question goes, the agent
    /// waits for `Stop` or SIGTERM with admission still closed.
    func settle() -> Draining<Instant> { Draining(drain: nil, holds: holds) }
    /// The end of session alone was called off while asking.
    func resume() -> Running<Instant> { Running(holds: holds) }
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
