import Synchronization

/// A ready-made signalling ``WorkSource``: count work in with ``begin(_:)``, out with ``end(_:)``.
///
/// Every change is sent to each subscriber at once, which is what lets the coordinator proceed the
/// moment the last unit of work ends. Thread-safe: `begin` and `end` may be called from any thread,
/// including non-async code such as a D-Bus callback.
public final class WorkCounter: WorkSource, Sendable {
    /// One unit of counted work; pass it back to ``WorkCounter/end(_:)``.
    public struct Token: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    private struct State {
        var nextID: UInt64 = 0
        var running: [UInt64: String] = [:]
        var order: [UInt64] = []
        var subscribers: [UInt64: AsyncStream<WorkSnapshot>.Continuation] = [:]
        var nextSubscriber: UInt64 = 0

        var snapshot: WorkSnapshot {
            WorkSnapshot(count: running.count, items: order.compactMap { running[$0] })
        }
    }

    public let name: String
    public let blocksSleep: Bool
    private let state = Mutex(State())

    /// - Parameters:
    ///   - name: the source's name in logs, events and the prompt.
    ///   - blocksSleep: whether a system sleep waits for this work (see ``WorkSource/blocksSleep``).
    public init(name: String, blocksSleep: Bool = true) {
        self.name = name
        self.blocksSleep = blocksSleep
    }

    /// Counts one unit of work in.
    /// - Parameter label: what the prompt shows for it ("recording: lab-3").
    @discardableResult
    public func begin(_ label: String) -> Token {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.running[id] = label
            state.order.append(id)
            Self.publish(&state)
            return Token(id: id)
        }
    }

    /// Counts a unit of work out. Ending a token twice is harmless: the second call changes nothing.
    public func end(_ token: Token) {
        state.withLock { state in
            guard state.running.removeValue(forKey: token.id) != nil else { return }
            state.order.removeAll { $0 == token.id }
            Self.publish(&state)
        }
    }

    /// Counts many units out at once, with one change for subscribers: when a thousand clients
    /// leave together, the coordinator sees one snapshot, not a thousand.
    public func end(_ tokens: some Sequence<Token>) {
        state.withLock { state in
            let ids = Set(tokens.map(\.id))
            let before = state.running.count
            for id in ids { state.running.removeValue(forKey: id) }
            guard state.running.count != before else { return }
            state.order.removeAll { ids.contains($0) }
            Self.publish(&state)
        }
    }

    /// How many units run now.
    public var count: Int { state.withLock { $0.running.count } }

    /// The snapshot now, from any thread without awaiting.
    public var current: WorkSnapshot { state.withLock { $0.snapshot } }

    public func snapshotNow() -> WorkSnapshot? { current }

    public func snapshot() async -> WorkSnapshot {
        state.withLock { $0.snapshot }
    }

    public func changes() -> AsyncStream<WorkSnapshot> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: WorkSnapshot.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Sends the current snapshot to every subscriber. Runs under the lock, so subscribers see
    /// changes in the order they happened.
    private static func publish(_ state: inout State) {
        let snapshot = state.snapshot
        for continuation in state.subscribers.values {
            continuation.yield(snapshot)
        }
    }
}
