import Synchronization

/// Tells a running copy to stop at its next chunk. Set from any thread.
public final class AbortFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    public init() {}

    public func raise() { raised.store(true, ordering: .relaxed) }
    public var isRaised: Bool { raised.load(ordering: .relaxed) }
}
