import Foundation
public import QuiesceDBus

/// A private system bus with the real `systemd-logind` on it, and python-dbusmock's `systemd`
/// template standing in for the service manager (it only records `StartUnit`: nothing is ever
/// powered off or suspended). logind keeps machine-wide state under /run/systemd: one rig at a
/// time: each waits for its `LogindTurn`. Everything is stopped by pid when the rig is dropped.
public final class LogindRig: @unchecked Sendable {
    // Safe: set once in init, except `logind`, which only the owning test replaces.
    public let bus: PrivateBus
    public let connection: BusConnection
    private let mock: PeerProcess
    private var logind: PeerProcess

    public init() async throws {
        for path in ["/lib/systemd/systemd-logind", "/usr/bin/python3"] where !FileManager.default.isExecutableFile(atPath: path) {
            throw PeerMissing(what: "\(path) (Debian packages systemd and python3-dbusmock)")
        }
        await LogindTurn.shared.take()
        var handedOver = false
        defer { if !handedOver { LogindTurn.shared.giveSoon() } }
        let bus = try PrivateBus(type: "system")
        let connection = try await BusConnection.open(address: bus.address, label: "test system bus")
        self.bus = bus
        self.connection = connection
        mock = try spawnRigPeer("systemd-mock", environment: Self.environment(bus))
        try await eventually("python-dbusmock owning org.freedesktop.systemd1") {
            try await connection.nameOwner("org.freedesktop.systemd1") != nil
        }
        // logind checks that the target unit is loaded before it announces PrepareForShutdown.
        let units = try await run(rigScript, ["add-units", bus.address])
        guard units.status == 0 else { throw PeerMissing(what: "unit objects in the systemd mock: \(units.error)") }
        logind = try spawnRigPeer("logind", environment: Self.environment(bus))
        try await eventually("systemd-logind owning org.freedesktop.login1") {
            try await connection.nameOwner(LogindManager.busName) != nil
        }
        handedOver = true
    }

    deinit {
        logind.stop()
        mock.stop()
        connection.close()
        LogindTurn.shared.giveSoon()
    }

    /// Kills logind and starts a new one (as a package upgrade or a crash would).
    public func restartLogind() async throws {
        logind.stop()
        try await eventually("logind gone from the bus") { try await connection.nameOwner(LogindManager.busName) == nil }
        logind = try spawnRigPeer("logind", environment: Self.environment(bus))
        try await waitForLogind()
    }

    /// Kills logind for good.
    public func stopLogind() async throws {
        logind.stop()
        try await eventually("logind gone from the bus") { try await connection.nameOwner(LogindManager.busName) == nil }
    }

    /// The methods the mock service manager was called with, in order (`StartUnit` and so on).
    public func managerCalls() async throws -> [String] {
        let reply = try await connection.call(try DBusMessage.methodCall(
            destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1", interface: "org.freedesktop.DBus.Mock",
            member: "GetCalls"))
        return (try reply.arguments().first?.array ?? []).compactMap { call in
            guard let fields = call.fields, fields.count == 3, let name = fields[1].string else { return nil }
            let arguments = (fields[2].array ?? []).compactMap { $0.unwrapped.string }
            return ([name] + arguments).joined(separator: " ")
        }
    }

    private func waitForLogind() async throws {
        try await eventually("systemd-logind owning org.freedesktop.login1") {
            try await connection.nameOwner(LogindManager.busName) != nil
        }
    }

    /// Our environment, with the rig's bus as the system bus.
    private static func environment(_ bus: PrivateBus) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        return environment
    }
}
