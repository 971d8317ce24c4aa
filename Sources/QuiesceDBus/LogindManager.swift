/// A typed proxy for `org.freedesktop.login1.Manager` on the system bus: inhibitor locks, the
/// delay logind grants them, and its shutdown and sleep announcements.
public struct LogindManager: Sendable {
    public static let busName = "org.freedesktop.login1"
    static let path = "/org/freedesktop/login1"
    static let interface = "org.freedesktop.login1.Manager"

    public let connection: BusConnection

    public init(connection: BusConnection) {
        self.connection = connection
    }

    /// One inhibitor lock as `ListInhibitors` reports it.
    public struct Inhibitor: Sendable, Hashable {
        public var what: String
        public var who: String
        public var why: String
        public var mode: String
        public var uid: UInt32
        public var pid: UInt32
    }

    /// Takes an inhibitor lock. The lock is held while the returned descriptor (and every copy of
    /// it) stays open.
    /// - Parameters:
    ///   - what: "shutdown:sleep" and the like.
    ///   - who, why: shown by `systemd-inhibit --list` and to users who ask why shutdown waits.
    ///   - mode: "delay" (hold shutdown or sleep up to `InhibitDelayMaxUSec`) or "block".
    public func inhibit(what: String, who: String, why: String, mode: String = "delay") async throws(DBusError) -> OwnedFD {
        let reply = try await connection.call(try call("Inhibit", [.string(what), .string(who), .string(why), .string(mode)]))
        guard let fd = try reply.arguments().first?.unixFD else {
            throw .malformed("Inhibit answered (\(reply.signature)) without a file descriptor")
        }
        return fd
    }

    /// Every inhibitor lock logind knows of.
    public func listInhibitors() async throws(DBusError) -> [Inhibitor] {
        let reply = try await connection.call(try call("ListInhibitors", []))
        guard let items = try reply.arguments().first?.array else { throw .malformed("ListInhibitors answered (\(reply.signature))") }
        return items.compactMap { item in
            guard let f = item.fields, f.count == 6, let what = f[0].string, let who = f[1].string, let why = f[2].string,
                let mode = f[3].string, let uid = f[4].uint32, let pid = f[5].uint32
            else { return nil }
            return Inhibitor(what: what, who: who, why: why, mode: mode, uid: uid, pid: pid)
        }
    }

    /// How long logind waits for delay locks before going on (`InhibitDelayMaxUSec`).
    public func inhibitDelayMax() async throws(DBusError) -> Duration {
        let get = try DBusMessage.methodCall(
            destination: Self.busName, path: Self.path, interface: "org.freedesktop.DBus.Properties", member: "Get",
            arguments: [.string(Self.interface), .string("InhibitDelayMaxUSec")])
        guard let microseconds = try await connection.call(get).arguments().first?.unwrapped.uint64 else {
            throw .malformed("InhibitDelayMaxUSec is not a uint64")
        }
        return .microseconds(Int64(clamping: microseconds))
    }

    /// `PrepareForShutdown(active)` announcements, for as long as the sequence is iterated.
    public func prepareForShutdown() async throws(DBusError) -> AsyncCompactMapSequence<AsyncStream<DBusMessage>, Bool> {
        try await announcements("PrepareForShutdown")
    }

    /// `PrepareForSleep(active)` announcements, for as long as the sequence is iterated.
    public func prepareForSleep() async throws(DBusError) -> AsyncCompactMapSequence<AsyncStream<DBusMessage>, Bool> {
        try await announcements("PrepareForSleep")
    }

    /// Asks logind to power off (as a test rig does; never call this on a real system bus).
    public func powerOff(interactive: Bool = false) async throws(DBusError) {
        _ = try await connection.call(try call("PowerOff", [.boolean(interactive)]))
    }

    /// Asks logind to suspend (as a test rig does).
    public func suspend(interactive: Bool = false) async throws(DBusError) {
        _ = try await connection.call(try call("Suspend", [.boolean(interactive)]))
    }

    private func announcements(_ member: String) async throws(DBusError) -> AsyncCompactMapSequence<AsyncStream<DBusMessage>, Bool> {
        try await connection.signals(matching: MatchRule(sender: Self.busName, interface: Self.interface, member: member, path: Self.path))
            .compactMap { message in (try? message.arguments())?.first?.bool }
    }

    private func call(_ member: String, _ arguments: [DBusValue]) throws(DBusError) -> DBusMessage {
        try DBusMessage.methodCall(destination: Self.busName, path: Self.path, interface: Self.interface, member: member, arguments: arguments)
    }
}
