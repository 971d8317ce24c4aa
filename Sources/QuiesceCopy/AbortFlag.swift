import Synchronization

/// Tells a running copy to stop at its next chunk. Set from any thread (and from a signal
/// handler: ``isRaised`` and ``raise()`` touch only an atomic unless someone asked to be told).
public final class AbortFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    private let watchers = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    public func raise() {
        guard !raised.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for watcher in watchers.withLock({ watchers in defer { watchers = [] }; return watchers }) { watcher() }
    }

    public var isRaised: Bool { raised.load(ordering: .acquiring) }

    /// Calls `action` once when the flag is raised (at once if it is already): how a copy in
    /// another process is told to stop.
    public func whenRaised(_ action: @escaping @Sendable () -> Void) {
        let now = watchers.withLock { watchers -> Bool in
            if raised.load(ordering: .acquiring) { return true }
            watchers.append(action)
            return false
        }
        if now { action() }
    }
}
