/// What asks the agent to stop, or the system to wait for it.
///
/// Each trigger brings its window: how long the agent waits for the idle predicate before it asks
/// the user (quits) or lets the system go on (shutdown and sleep).
public enum Trigger: Sendable, Hashable, CustomStringConvertible {
    /// `agentctl quit` or D-Bus `Quit`: the quit window (`shutdown.quit_timeout`), or `timeout`
    /// when the caller gives one.
    case request(timeout: Duration? = nil)
    /// SIGINT. The first uses the quit window; a second signal of either kind forces.
    case interrupt
    /// SIGTERM (logout, `systemctl --user stop`). The first uses `shutdown.sigterm_timeout`; a
    /// second signal of either kind forces.
    case terminate
    /// logind `PrepareForShutdown(true)`. Admission closes and the agent waits up to `window` for
    /// the idle predicate, then lets the system go on (the ``SystemHold`` is released) and stays up
    /// until SIGTERM or until ``ShutdownCoordinator/resume(_:)`` says the shutdown was cancelled.
    case systemShutdown(window: Duration)
    /// logind `PrepareForSleep(true)`. Nothing new is claimed; the agent waits up to `window` for
    /// the work that ``WorkSource/blocksSleep``, then lets the system sleep. Sessions stay open.
    case systemSleep(window: Duration)
    /// The desktop ends the session (GNOME's session manager `EndSession`, rule 11). The quit
    /// window, bounded by `quit_timeout` + `answer_timeout` (rule 10); the ``SystemHold`` of kind
    /// ``SystemHoldKind/sessionEnd`` resolves when the agent may answer the desktop: idle (the agent
    /// then stays up, admission closed, until `Stop` or SIGTERM) or forced at the ceiling.
    /// ``ShutdownCoordinator/resume(_:)`` with `.sessionEnd` is the desktop's `CancelEndSession`.
    case sessionEnding
    /// `Quit` with force, the Force quit action, a second signal: stop now.
    case force

    public var description: String {
        switch self {
        case .request(let timeout?): "quit request (timeout \(timeout.quiesceFormatted))"
        case .request(nil): "quit request"
        case .interrupt: "SIGINT"
        case .terminate: "SIGTERM"
        case .systemShutdown(let window): "system shutdown (window \(window.quiesceFormatted))"
        case .systemSleep(let window): "system sleep (window \(window.quiesceFormatted))"
        case .sessionEnding: "end of session"
        case .force: "force"
        }
    }

    /// Whether this trigger is a POSIX signal; the second signal forces.
    var isSignal: Bool {
        switch self {
        case .interrupt, .terminate: true
        default: false
        }
    }
}

/// What a trigger did, reported to whoever sent it (a D-Bus `Quit` reply, a log line).
public struct TriggerResponse: Sendable {
    /// The effect of the trigger.
    public enum Effect: Sendable, Hashable {
        /// Start has not completed: the trigger is carried out when it does.
        case deferred
        /// A drain began.
        case drainStarted
        /// The drain was under way with a later deadline: the deadline moved in.
        case deadlinePulledIn
        /// The drain was under way and its deadline stays, but this trigger bounds it (rule 10: a
        /// SIGTERM while prompting, or after the window had less left than the SIGTERM window).
        case ceilingSet
        /// The drain was under way with an equal or earlier deadline: nothing changed.
        case unchanged
        /// The agent is stopping now.
        case forced
        /// A system delay is held; await ``TriggerResponse/hold`` to learn when to release it.
        case holding
        /// Too late: the agent is already stopping or stopped.
        case ignored
    }

    public var effect: Effect
    /// The phase after the trigger was handled.
    public var phase: Phase
    /// Time left until the drain's deadline, when one is set.
    public var remaining: Duration?
    /// For system shutdown and sleep: when to let the system go on.
    public var hold: SystemHold?
}

/// Which transition a hold is for: a system shutdown or sleep (logind), or the desktop's end of
/// session.
public enum SystemHoldKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// logind `PrepareForShutdown`.
    case shutdown
    /// logind `PrepareForSleep`.
    case sleep
    /// The desktop's end of session (rule 11): resolved when the agent may answer the session
    /// manager.
    case sessionEnd

    public var description: String {
        switch self {
        case .shutdown: "shutdown"
        case .sleep: "sleep"
        case .sessionEnd: "end of session"
        }
    }
}

extension Duration {
    /// "30 s", "0.25 s": the way windows are written in logs and messages.
    public var quiesceFormatted: String {
        let (seconds, attoseconds) = components
        if attoseconds == 0 { return "\(seconds) s" }
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return "\((value * 1000).rounded() / 1000) s"
    }
}
