import Synchronization

/// Tells a running copy to stop at its next chunk. Set from any thread; from a signal handler
/// with ``raiseFromSignalHandler()``, which touches nothing but an atomic.
public final class AbortFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    private let watchers = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    public func raise() {
        guard !raised.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for watcher in watchers.withLock({ watchers in defer { watchers = [] }; return watchers }) { watcher() }
    }

    /// Raises the flag without telling the watchers (``whenRaised(_:)``): what a signal handler
    /// may do (no lock is taken). The copier child's `SIGTERM` handler, whose flag has none.
    public func raiseFromSignalHandler() {
        raised.store(true, ordering: .releasing)
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
