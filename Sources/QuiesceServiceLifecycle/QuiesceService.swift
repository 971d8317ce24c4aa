public import QuiesceCore
public import ServiceLifecycle
import UnixSignals

/// Runs a ``ShutdownCoordinator`` as one service of a swift-service-lifecycle `ServiceGroup`.
///
/// Put it **last** in the group's service list and give it
/// `successTerminationBehavior: .gracefullyShutdownGroup`. Then:
/// - a graceful shutdown of the group reaches this service first (the group goes in reverse
///   order) and starts a quit drain with the quit window;
/// - SIGINT and SIGTERM, which this service traps itself, start a drain with their own windows
///   (30 s and 5 s by default) and a second signal forces;
/// - when the drain ends, `run()` returns and the group stops the other services in reverse start
///   order, each within its own graceful-shutdown budget.
///
/// Leave the group's `gracefulShutdownSignals` empty: the group cannot tell SIGINT from SIGTERM,
/// and the windows differ.
public struct QuiesceService<C: Clock>: Service where C.Duration == Duration {
    public let coordinator: ShutdownCoordinator<C>
    private let trapSignals: Bool

    /// - Parameters:
    ///   - coordinator: built with the agent's work sources and prompts; its own component list is
    ///     usually empty, since the group owns start and teardown.
    ///   - trapSignals: whether to map SIGINT and SIGTERM onto the coordinator's triggers.
    public init(coordinator: ShutdownCoordinator<C>, trapSignals: Bool = true) {
        self.coordinator = coordinator
        self.trapSignals = trapSignals
    }

    /// Runs until the coordinator has stopped.
    /// - Throws: ``QuiesceServiceError`` when a coordinator component failed to start, so the
    ///   group fails as a whole and the agent can exit 1.
    public func run() async throws {
        let signals: UnixSignalsSequence? = trapSignals ? await UnixSignalsSequence(trapping: .sigint, .sigterm) : nil
        let coordinator = coordinator
        let signalTask = Task {
            guard let signals else { return }
            for await signal in signals {
                await coordinator.trigger(signal == .sigterm ? .terminate : .interrupt)
            }
        }
        defer { signalTask.cancel() }
        let result = await withGracefulShutdownHandler {
            await coordinator.run()
        } onGracefulShutdown: {
            Task { await coordinator.trigger(.request()) }
        }
        if case .failedToStart(let component, let error) = result.outcome {
            throw QuiesceServiceError(component: component, message: error)
        }
    }
}

/// The coordinator could not start one of its components.
public struct QuiesceServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    public var component: String
    public var message: String

    public var description: String {
        "\(component) failed to start: \(message)"
    }
}
