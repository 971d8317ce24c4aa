/// Where the coordinator is in an agent's life.
///
/// `starting → running → draining → prompting → stopping → stopped`, plus `failed` when start
/// does not complete. `draining ↔ prompting` repeats while the user answers Wait, and
/// `draining → running` happens only when a system shutdown is cancelled before any quit was asked.
/// The legal moves are spelled out by the phase types in `PhaseMachine.swift`.
public enum Phase: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Components are starting; quit requests are deferred until start completes.
    case starting
    /// Taking new work.
    case running
    /// Admission is closed and nothing new is claimed; waiting for the idle predicate.
    case draining
    /// The window ran out while work still runs: the user is being asked.
    case prompting
    /// Components are being stopped in reverse start order.
    case stopping
    /// Everything has stopped.
    case stopped
    /// Start did not complete; what had started was stopped again.
    case failed

    public var description: String { rawValue }

    /// Whether new sessions may be admitted in this phase.
    public var admitsWork: Bool { self == .running }
}
