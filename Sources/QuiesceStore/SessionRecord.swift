/// Who opened a session: the D-Bus caller's credentials.
public struct SessionOwner: Sendable, Hashable {
    public var uid: UInt32
    public var pid: UInt32
    /// The caller's unique bus name (`:1.42`), for bound sessions.
    public var connection: String?

    public init(uid: UInt32, pid: UInt32, connection: String?) {
        self.uid = uid
        self.pid = pid
        self.connection = connection
    }
}

/// Why a session ended.
public enum SessionCloseReason: String, Sendable, Hashable {
    /// `CloseSession` was called.
    case closed
    /// A bound session's client left the bus.
    case clientVanished = "client-vanished"
    /// A bound session of an agent run that crashed, closed at the next start.
    case abandoned
}

/// A unit of user work that must not be cut off.
public struct SessionRecord: Sendable, Hashable {
    public var id: String
    public var label: String
    /// Bound sessions close by themselves when the client that opened them disconnects.
    public var bound: Bool
    public var owner: SessionOwner
    /// The agent run that opened it.
    public var instance: String
    /// Unix milliseconds.
    public var openedAt: Int64
    public var closedAt: Int64?
    public var closeReason: SessionCloseReason?
}
