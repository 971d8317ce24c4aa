import Logging

/// What happens to the protocol: everything the machine reacts to, each handled at one instant.
enum MachineInput: Sendable {
    /// Every component started.
    case startCompleted
    /// A component failed to start; the ones started before it are being stopped again.
    case startFailed(component: String, error: String)
    /// A quit, a signal, the desktop's end of session, a system shutdown or sleep, a force.
    case trigger(Trigger)
    /// logind's `PrepareFor…(false)` or the desktop's `CancelEndSession`: that transition is off.
    case resume(SystemHoldKind)
    /// A work source sent a snapshot. `epoch` names the subscription it came from, so a snapshot
    /// from one that has ended changes nothing.
    case workChanged(epoch: Int, source: Int, WorkSnapshot)
    /// Time passed: a deadline may be due. Which one does not matter, the machine compares
    /// instants, so a timer that fires late or twice changes nothing.
    case clock
    /// A prompt of round `round` returned its answer.
    case promptAnswered(round: Int, prompt: Int, PromptAnswer)
    /// Every component has stopped (or the hard exit deadline passed).
    case teardownFinished
    /// A configuration reload: new windows apply to triggers from now on.
    case reconfigure(ShutdownConfiguration)
}

/// What the machine asks its interpreter (``ShutdownCoordinator``) to do, in order.
enum MachineEffect<Instant: InstantProtocol>: Sendable, Equatable where Instant.Duration == Duration {
    /// Report an event to subscribers and the log.
    case emit(ShutdownEvent)
    /// A log line that is not an event (why the agent forces, what was deferred).
    case log(Logger.Level, String)
    /// Set the admission and claim gates.
    case gates(admission: Bool, claims: Bool)
    /// Wake the machine with ``MachineInput/clock`` at `instant` (replacing that deadline's timer).
    case arm(Deadline, at: Instant)
    /// That deadline is gone: drop its timer.
    case disarm(Deadline)
    /// Subscribe to every work source, tagging snapshots with `epoch`.
    case watchWork(epoch: Int)
    /// End the subscription: nothing needs the counts now.
    case unwatchWork
    /// Hand out a hold of this kind (keep the one handed out if it is still unresolved).
    case takeHold(SystemHoldKind)
    /// Resolve the hold of this kind: its holder may let the system (or the desktop) go on.
    case resolveHold(SystemHoldKind, HoldRelease)
    /// The system resumed: forget the hold of this kind, a later trigger hands out a new one.
    case forgetHold(SystemHoldKind)
    /// Show `question` on every prompt, as round `round`.
    case showPrompts(round: Int, PromptQuestion)
    /// Send the new question to every prompt still asking.
    case updatePrompts(PromptQuestion)
    /// Take the question down on these prompts (by index), and end the round.
    case withdrawPrompts([Int])
    /// The decision is made: stop the components.
    case beginTeardown(StopDecision)
}

/// The deadlines the machine keeps; each has at most one timer.
enum Deadline: Sendable, Hashable, CaseIterable {
    /// The drain's window: the prompt shows when it passes with work running.
    case drain
    /// Rule 10: the agent has decided by then.
    case ceiling
    /// How long logind waits for us.
    case shutdownHold
    case sleepHold
}

/// What one input did: the effects to carry out, and for a trigger what it did.
struct MachineStep<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    var effects: [MachineEffect<Instant>] = []
    var response: TriggerResponse.Effect?
}
