/// A typed proxy for GNOME's session manager (`org.gnome.SessionManager` on the session bus, also
/// run by Cinnamon, MATE and Budgie): registering as a client, its `ClientPrivate` signals and
/// answers, and logout inhibitors.
public struct SessionManagerProxy: Sendable {
    public static let busName = "org.gnome.SessionManager"
    static let path = "/org/gnome/SessionManager"
    static let interface = "org.gnome.SessionManager"
    static let clientInterface = "org.gnome.SessionManager.ClientPrivate"

    /// What the session manager says to a registered client.
    public enum ClientSignal: Sendable, Hashable {
        /// May the session end? Answer with ``SessionManagerProxy/endSessionResponse(client:isOK:reason:)``.
        case queryEndSession(flags: UInt32)
        /// The session ends: finish, then answer with `EndSessionResponse`.
        case endSession(flags: UInt32)
        /// The end of the session was called off.
        case cancelEndSession
        /// Exit now.
        case stop
    }

    /// `Inhibit`'s flags: what an inhibitor holds up.
    public struct InhibitFlags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let logout = InhibitFlags(rawValue: 1)
        public static let switchUser = InhibitFlags(rawValue: 2)
        public static let suspend = InhibitFlags(rawValue: 4)
        public static let idle = InhibitFlags(rawValue: 8)
    }

    public let connection: BusConnection

    public init(connection: BusConnection) {
        self.connection = connection
    }

    /// Registers the caller as a client; returns its object path.
    /// - Parameters:
    ///   - appID: the application id, as in the desktop file's name.
    ///   - startupID: `$DESKTOP_AUTOSTART_ID` when the session manager started us, else "".
    public func registerClient(appID: String, startupID: String) async throws(DBusError) -> String {
        let reply = try await connection.call(try call("RegisterClient", [.string(appID), .string(startupID)]), timeout: .seconds(5))
        // An object path (`o`); a string is taken too, from a session manager that sends one.
        let answer = try reply.arguments().first
        guard let client = answer?.objectPath ?? answer?.string else {
            throw .malformed("RegisterClient answered (\(reply.signature)) without an object path")
        }
        return client
    }

    public func unregisterClient(_ client: String) async throws(DBusError) {
        _ = try await connection.call(try call("UnregisterClient", [.objectPath(client)]), timeout: .seconds(1))
    }

    /// The `ClientPrivate` signals for `client`, from the session manager's unique name `owner`
    /// only (anyone else on the bus could otherwise end our session), for as long as the sequence
    /// is iterated.
    public func clientSignals(client: String, owner: String) async throws(DBusError) -> AsyncCompactMapSequence<AsyncStream<DBusMessage>, ClientSignal> {
        try await connection.signals(matching: MatchRule(sender: owner, interface: Self.clientInterface, path: client))
            .compactMap { message -> ClientSignal? in
                guard message.sender == owner else { return nil }
                let flags = (try? message.arguments())?.first?.uint32 ?? 0
                switch message.member {
                case "QueryEndSession": return .queryEndSession(flags: flags)
                case "EndSession": return .endSession(flags: flags)
                case "CancelEndSession": return .cancelEndSession
                case "Stop": return .stop
                default: return nil
                }
            }
    }

    /// The answer to `QueryEndSession` or `EndSession`.
    public func endSessionResponse(client: String, isOK: Bool, reason: String = "") async throws(DBusError) {
        let message = try DBusMessage.methodCall(
            destination: Self.busName, path: client, interface: Self.clientInterface, member: "EndSessionResponse",
            arguments: [.boolean(isOK), .string(reason)])
        _ = try await connection.call(message, timeout: .seconds(5))
    }

    /// Takes an inhibitor; it lasts until ``uninhibit(_:)`` or until our connection closes.
    /// - Returns: the cookie to give back.
    public func inhibit(appID: String, reason: String, flags: InhibitFlags) async throws(DBusError) -> UInt32 {
        let reply = try await connection.call(
            try call("Inhibit", [.string(appID), .uint32(0), .string(reason), .uint32(flags.rawValue)]), timeout: .seconds(5))
        guard let cookie = try reply.arguments().first?.uint32 else { throw .malformed("Inhibit answered (\(reply.signature)) without a cookie") }
        return cookie
    }

    public func uninhibit(_ cookie: UInt32) async throws(DBusError) {
        _ = try await connection.call(try call("Uninhibit", [.uint32(cookie)]), timeout: .seconds(5))
    }

    /// Whether anything inhibits `flags` now.
    public func isInhibited(_ flags: InhibitFlags) async throws(DBusError) -> Bool {
        let reply = try await connection.call(try call("IsInhibited", [.uint32(flags.rawValue)]))
        guard let inhibited = try reply.arguments().first?.bool else { throw .malformed("IsInhibited answered (\(reply.signature))") }
        return inhibited
    }

    /// One inhibitor as the session manager lists it.
    public struct Inhibitor: Sendable, Hashable {
        public var appID: String
        public var reason: String
        public var flags: UInt32
    }

    /// Every inhibitor now, with its app id, reason and flags.
    public func inhibitors() async throws(DBusError) -> [Inhibitor] {
        let reply = try await connection.call(try call("GetInhibitors", []))
        guard let paths = try reply.arguments().first?.array?.compactMap({ $0.objectPath ?? $0.string }) else {
            throw .malformed("GetInhibitors answered (\(reply.signature))")
        }
        var inhibitors: [Inhibitor] = []
        for path in paths {
            func ask(_ member: String) async throws(DBusError) -> DBusValue? {
                let message = try DBusMessage.methodCall(
                    destination: Self.busName, path: path, interface: "org.gnome.SessionManager.Inhibitor", member: member)
                return try await connection.call(message).arguments().first
            }
            // An inhibitor can go between the list and the questions: skip it.
            guard let appID = try? await ask("GetAppId")?.string, let reason = try? await ask("GetReason")?.string,
                let flags = try? await ask("GetFlags")?.uint32
            else { continue }
            inhibitors.append(Inhibitor(appID: appID, reason: reason, flags: flags))
        }
        return inhibitors
    }

    /// Asks the session to end (as a test rig does): 0 normal, 1 without confirmation, 2 forced.
    public func logout(mode: UInt32) async throws(DBusError) {
        _ = try await connection.call(try call("Logout", [.uint32(mode)]), timeout: .seconds(5))
    }

    private func call(_ member: String, _ arguments: [DBusValue]) throws(DBusError) -> DBusMessage {
        try DBusMessage.methodCall(destination: Self.busName, path: Self.path, interface: Self.interface, member: member, arguments: arguments)
    }
}
