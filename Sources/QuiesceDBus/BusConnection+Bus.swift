/// What the bus daemon offers: names, caller credentials, and who owns what.
extension BusConnection {
    /// The answer to `RequestName`.
    public enum NameRequest: Sendable, Hashable {
        case primaryOwner
        case alreadyOwner
        /// Someone else owns it; with do-not-queue we are not waiting for it.
        case exists
        case inQueue
    }

    /// Asks for a well-known name without queueing behind its owner.
    public func requestName(_ name: String) async throws(DBusError) -> NameRequest {
        try Validation.busName(name)
        let reply = try await call(try Self.busCall("RequestName", [.string(name), .uint32(4)]))  // 4 = DBUS_NAME_FLAG_DO_NOT_QUEUE
        switch try reply.arguments().first?.uint32 {
        case 1: return .primaryOwner
        case 2: return .inQueue
        case 3: return .exists
        case 4: return .alreadyOwner
        default: throw .malformed("RequestName answered \(reply.signature)")
        }
    }

    /// Gives a name up.
    public func releaseName(_ name: String) async throws(DBusError) {
        _ = try await call(try Self.busCall("ReleaseName", [.string(name)]))
    }

    /// The unique name that owns `name` now, or nil when nobody does.
    public func nameOwner(_ name: String) async throws(DBusError) -> String? {
        do {
            return try await call(try Self.busCall("GetNameOwner", [.string(name)])).arguments().first?.string
        } catch where error.name == .nameHasNoOwner {
            return nil
        }
    }

    /// Who is behind a connection, as the bus daemon vouches for it.
    public struct Credentials: Sendable, Hashable {
        public var uid: UInt32
        public var pid: UInt32?
    }

    /// The uid and pid of the connection `name` (a caller's sender).
    public func credentials(of name: String) async throws(DBusError) -> Credentials {
        try Self.credentials(in: try await call(try Self.credentialsCall(of: name)), of: name)
    }

    /// ``credentials(of:)`` asked of the bus now, from whatever thread (see
    /// ``callStarted(_:timeout:)``), and awaited by the task returned.
    public func credentialsLookup(of name: String) -> Task<Credentials, any Error> {
        let started: StartedCall
        do {
            started = callStarted(try Self.credentialsCall(of: name))
        } catch {
            return Task { throw error }
        }
        return Task { try Self.credentials(in: try await started.reply(), of: name) }
    }

    private static func credentialsCall(of name: String) throws(DBusError) -> DBusMessage {
        try busCall("GetConnectionCredentials", [.string(name)])
    }

    private static func credentials(in reply: DBusMessage, of name: String) throws(DBusError) -> Credentials {
        guard let values = try reply.arguments().first?.vardict, let uid = values["UnixUserID"]?.uint32 else {
            throw .malformed("GetConnectionCredentials gave no UnixUserID for \(name)")
        }
        return Credentials(uid: uid, pid: values["ProcessID"]?.uint32)
    }

    /// A change of ownership: `name` went from `oldOwner` to `newOwner` ("" is nobody).
    public struct NameOwnerChange: Sendable, Hashable {
        public var name: String
        public var oldOwner: String
        public var newOwner: String
    }

    /// Ownership changes of `name` (a client's unique name: it vanished; a service: it came or
    /// went), for as long as the sequence is iterated.
    public func nameOwnerChanges(of name: String? = nil) async throws(DBusError) -> AsyncCompactMapSequence<AsyncStream<DBusMessage>, NameOwnerChange> {
        try await nameOwnerChanges(.nameOwnerChanged(of: name))
    }

    /// Names that lost their owner — a client that left the bus (its unique name), a service that
    /// let its name go — for as long as the sequence is iterated.
    ///
    /// Matched by the bus (the new owner is ""): a program that follows its clients' departures
    /// is not woken by every client that arrives, as it was with all of ``nameOwnerChanges(of:)``
    /// — on a desktop's bus every short-lived client, and at a quit the very client asking for it,
    /// its `Hello` read by the agent just before its calls.
    public func departures() async throws(DBusError) -> AsyncCompactMapSequence<AsyncStream<DBusMessage>, NameOwnerChange> {
        try await nameOwnerChanges(.nameOwnerChanged(newOwner: ""))
    }

    private func nameOwnerChanges(_ rule: MatchRule) async throws(DBusError) -> AsyncCompactMapSequence<AsyncStream<DBusMessage>, NameOwnerChange> {
        let stream = try await signals(matching: rule)
        return stream.compactMap { message in
            guard let arguments = try? message.arguments(), arguments.count == 3,
                let name = arguments[0].string, let old = arguments[1].string, let new = arguments[2].string
            else { return nil }
            return NameOwnerChange(name: name, oldOwner: old, newOwner: new)
        }
    }
}
