import Foundation
public import QuiesceDBus

/// python-dbusmock's `notification_daemon` template on a private session bus: a notification
/// server written by others, whose calls tests can read and whose signals tests can send.
public final class NotificationMock: @unchecked Sendable {
    // Safe: set once in init.
    public let bus: PrivateBus
    public let control: BusConnection
    private let mock: PeerProcess

    /// - Parameter capabilities: what `GetCapabilities` answers ("actions body" by default).
    public init(capabilities: String = "actions body") async throws {
        let bus = try PrivateBus()
        let control = try await BusConnection.open(address: bus.address, label: "test session bus")
        self.bus = bus
        self.control = control
        mock = try spawnRigPeer("notifications", [capabilities], environment: bus.sessionEnvironment)
        try await eventually("python-dbusmock owning org.freedesktop.Notifications") {
            try await control.nameOwner("org.freedesktop.Notifications") != nil
        }
    }

    deinit {
        stop()
        control.close()
    }

    /// Kills the server (as if it crashed).
    public func stop() {
        mock.stop()
    }

    /// Each call the server received: the method and its arguments.
    public func calls() async throws -> [(method: String, arguments: [DBusValue])] {
        let reply = try await control.call(try DBusMessage.methodCall(
            destination: "org.freedesktop.Notifications", path: "/org/freedesktop/Notifications",
            interface: "org.freedesktop.DBus.Mock", member: "GetCalls"))
        return (try reply.arguments().first?.array ?? []).compactMap { call in
            guard let fields = call.fields, fields.count == 3, let method = fields[1].string else { return nil }
            return (method, (fields[2].array ?? []).map(\.unwrapped))
        }
    }

    /// Sends a signal as the server.
    public func emit(_ member: String, signature: String, _ arguments: [DBusValue]) async throws {
        _ = try await control.call(try DBusMessage.methodCall(
            destination: "org.freedesktop.Notifications", path: "/org/freedesktop/Notifications",
            interface: "org.freedesktop.DBus.Mock", member: "EmitSignal",
            arguments: [
                .string("org.freedesktop.Notifications"), .string(member), .signature(signature),
                .array(element: "v", arguments.map(DBusValue.variant)),
            ]))
    }
}
