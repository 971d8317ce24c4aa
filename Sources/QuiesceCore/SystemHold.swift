import Synchronization

/// Why a system delay may be released now.
public enum HoldRelease: String, Sendable, Hashable, CustomStringConvertible {
    /// The work the hold waits for has ended.
    case idle
    /// The window ran out; the system goes on regardless.
    case windowElapsed
    /// The system said it is not going down or to sleep after all.
    case cancelled
    /// The agent is stopping; its lock goes with it.
    case stopping

    public var description: String {
        switch self {
        case .idle: "work ended"
        case .windowElapsed: "window elapsed"
        case .cancelled: "cancelled by the system"
        case .stopping: "agent stopping"
        }
    }
}

/// A system shutdown or sleep the agent is holding up with its delay lock.
///
/// Await ``released()``, then checkpoint and release the logind inhibitor. It resolves exactly
/// once; awaiting it again returns the same reason at once.
public final class SystemHold: Sendable {
    private struct State {
        var release: HoldRelease?
        var waiters: [CheckedContinuation<HoldRelease, Never>] = []
    }

    public let kind: SystemHoldKind
    private let state = Mutex(State())

    init(kind: SystemHoldKind) {
        self.kind = kind
    }

    /// Returns when the lock may be released, and why.
    public func released() async -> HoldRelease {
        await withCheckedContinuation { continuation in
            let done: HoldRelease? = state.withLock { state in
                if let release = state.release { return release }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// Whether the hold has been released, and why.
    public var release: HoldRelease? { state.withLock { $0.release } }

    /// Resolves the hold; later calls change nothing.
    func resolve(_ release: HoldRelease) {
        let waiters: [CheckedContinuation<HoldRelease, Never>] = state.withLock { state in
            guard state.release == nil else { return [] }
            state.release = release
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: release) }
    }
}
