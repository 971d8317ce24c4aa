import Synchronization

/// Hands every ``ShutdownEvent`` to every subscriber, in order, without dropping any.
final class EventBroadcaster: Sendable {
    private struct State {
        var subscribers: [UInt64: AsyncStream<ShutdownEvent>.Continuation] = [:]
        var next: UInt64 = 0
        var finished = false
    }

    private let state = Mutex(State())

    func subscribe() -> AsyncStream<ShutdownEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ShutdownEvent.self)
        let id: UInt64? = state.withLock { state in
            guard !state.finished else { return nil }
            state.next += 1
            state.subscribers[state.next] = continuation
            return state.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func yield(_ event: ShutdownEvent) {
        state.withLock { state in
            for continuation in state.subscribers.values { continuation.yield(event) }
        }
    }

    /// Ends every subscription: the coordinator has stopped.
    func finish() {
        let all: [AsyncStream<ShutdownEvent>.Continuation] = state.withLock { state in
            state.finished = true
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for continuation in all { continuation.finish() }
    }
}
