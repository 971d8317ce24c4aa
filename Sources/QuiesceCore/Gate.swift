import Synchronization

/// A thread-safe open/closed switch that work must pass: admission of new sessions, claims of new
/// sync jobs. The coordinator opens and closes it; everyone else only passes or waits.
///
/// ``admit(_:)`` runs its body under the gate's lock, so "check the gate, then count the work in"
/// is one step: once ``ShutdownCoordinator`` has closed admission, no session can slip in behind
/// it, however the threads interleave.
public final class Gate: Sendable {
    private struct State {
        var isOpen: Bool
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter: UInt64 = 0
    }

    /// What the gate guards, for error messages ("admission", "claims").
    public let name: String
    private let state: Mutex<State>

    public init(name: String, open: Bool) {
        self.name = name
        self.state = Mutex(State(isOpen: open))
    }

    public var isOpen: Bool { state.withLock { $0.isOpen } }

    /// Runs `body` if the gate is open, holding the gate's lock so it cannot close meanwhile.
    ///
    /// Keep `body` short and synchronous (count the work in, insert a row): closing the gate waits
    /// for it.
    /// - Throws: ``GateClosed`` when the gate is closed; whatever `body` throws.
    public func admit<T: Sendable>(_ body: () throws -> T) throws -> T {
        try state.withLock { state in
            guard state.isOpen else { throw GateClosed(gate: name) }
            return try body()
        }
    }

    /// Returns when the gate is open (at once if it is).
    /// - Throws: `CancellationError` when the waiting task is cancelled.
    public func waitUntilOpen() async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, any Error>? = state.withLock { state in
                    if state.isOpen { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Opens or closes the gate. Only the coordinator calls this.
    func set(open: Bool) {
        let woken: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            state.isOpen = open
            guard open else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }
}

/// Work was refused because a gate is closed: the agent is shutting down or paused.
public struct GateClosed: Error, Sendable, Hashable, CustomStringConvertible {
    /// The gate that refused ("admission", "claims").
    public var gate: String

    public var description: String {
        "the agent is shutting down and takes no new work (\(gate) is closed); start it again to continue"
    }
}
