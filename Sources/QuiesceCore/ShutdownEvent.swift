/// Why the coordinator did what it did: attached to every event and log line.
public enum ShutdownReason: Sendable, Hashable, CustomStringConvertible {
    case startCompleted
    case startFailed(component: String, error: String)
    case trigger(Trigger)
    /// The idle predicate holds: no session, no in-flight job.
    case idle
    /// The window ran out.
    case deadline
    case answered(PromptAnswer, by: String)
    /// Every prompt said it cannot ask: the agent forces at the deadline.
    case noPromptAvailable
    /// A Wait's window ran out with `after_wait = force`.
    case afterWaitForce
    /// Rule 10: the ceiling of a stop nobody at the agent asked for passed undecided.
    case ceiling
    /// logind said the shutdown or sleep is off or over, or the desktop cancelled the end of
    /// session.
    case systemResumed(SystemHoldKind)
    /// Stopping has begun (the outcome is known, components are about to stop).
    case stopping
    case teardownFinished
    /// A count changed (prompt updates, status).
    case workChanged

    public var description: String {
        switch self {
        case .startCompleted: "start completed"
        case .startFailed(let component, let error): "start of \(component) failed: \(error)"
        case .trigger(let trigger): "\(trigger)"
        case .idle: "idle"
        case .deadline: "window ran out"
        case .answered(let answer, let prompt): "\(prompt) answered \(answer)"
        case .noPromptAvailable: "no prompt could be shown"
        case .afterWaitForce: "window after wait ran out (after_wait = force)"
        case .ceiling: "no answer by the ceiling (rule 10)"
        case .systemResumed(.sessionEnd): "end of session cancelled"
        case .systemResumed(let kind): "system \(kind) cancelled or over"
        case .stopping: "stopping"
        case .teardownFinished: "teardown finished"
        case .workChanged: "work changed"
        }
    }
}

/// One thing that happened in the protocol, with the state it left behind.
public struct ShutdownEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// The phase changed.
        case transition(from: Phase, to: Phase)
        /// The drain's deadline or ceiling moved (a shorter trigger pulled it in, a SIGTERM set a
        /// ceiling, a quit joined a drain that had none).
        case deadlineChanged
        /// A trigger arrived that changed nothing; reported so every trigger leaves a trace.
        case triggerIgnored
        /// A work source's count changed while the coordinator follows it (draining or holding):
        /// what a live progress display shows.
        case workChanged
        /// The question went up on every prompt.
        case promptShown(PromptQuestion)
        /// The question changed while shown (counts moved).
        case promptUpdated(PromptQuestion)
        /// The question was taken down unanswered on these prompts.
        case promptWithdrawn([String])
        /// A prompt could not ask.
        case promptUnavailable(name: String, why: String)
        /// A system delay is held.
        case holdTaken(SystemHoldKind)
        /// A system delay may be released.
        case holdReleased(SystemHoldKind, HoldRelease)
        /// Claiming of new work stopped or started again.
        case claimsPaused
        case claimsResumed
        /// Stopping has begun with this outcome (clean, or forced with what it cuts off): emitted
        /// before components stop, so a client following the quit learns it while we are still up.
        case outcomeDecided(ShutdownOutcome)
        /// A component finished starting or stopping.
        case componentStarted(String)
        case componentStopped(String, ComponentStop.Result)
    }

    public var kind: Kind
    /// The phase after the event.
    public var phase: Phase
    public var reason: ShutdownReason
    /// The counts of every source the coordinator follows; empty while it follows none.
    public var work: WorkCounts
    /// Time left until the drain's deadline, when one is set.
    public var remaining: Duration?

    public var description: String {
        var text = "\(kind) [\(phase)] because \(reason)"
        if !work.bySource.isEmpty { text += "; work: \(work)" }
        if let remaining { text += "; \(remaining.quiesceFormatted) left" }
        return text
    }
}
