/// A part of the agent with a start and a stop: the store, the sync worker, the D-Bus service.
///
/// Components start in the order given and stop in reverse, so nothing is stopped while something
/// started after it may still use it.
public protocol Component: Sendable {
    /// A short name for logs, events and the hard-deadline message.
    var name: String { get }

    /// How long ``stop()`` may take before the coordinator gives up on it and moves on; `nil` uses
    /// ``ShutdownConfiguration/stopTimeout``.
    var stopTimeout: Duration? { get }

    /// Brings the component up. A throw rolls back every component started before it.
    func start() async throws

    /// Takes the component down. After a force, this is where in-flight work is aborted safely.
    /// The task is cancelled when the stop timeout passes.
    func stop() async throws
}

extension Component {
    public var stopTimeout: Duration? { nil }
}
