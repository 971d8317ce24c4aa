import Foundation
public import QuiesceDBus

/// A private system bus with the real `systemd-logind` on it, and python-dbusmock's `systemd`
/// template standing in for the service manager (it only records `StartUnit`: nothing is ever
/// powered off or suspended). logind keeps machine-wide state under /run/systemd: one rig at a
/// time, so suites using it run serialized. Everything is stopped by pid when the rig is dropped.
public final class LogindRig: @unchecked Sendable {
    // Safe: set once in init, except `logind`, which only the owning test replaces.
    public let bus: PrivateBus
    public let connection: BusConnection
    private let mock: Process
    private var logind: Process

    public init() async throws {
        for path in ["/lib/systemd/systemd-logind", "/usr/bin/python3"] where !FileManager.default.isExecutableFile(atPath: path) {
            throw PeerMissing(what: "\(path) (Debian packages systemd and python3-dbusmock)")
        }
        let bus = try PrivateBus(type: "system")
        let connection = try await BusConnection.open(address: bus.address, label: "test system bus")
        self.bus = bus
        self.connection = connection
        mock = try spawnPeer("/usr/bin/python3", ["-m", "dbusmock", "--system", "--template", "systemd"], environment: Self.environment(bus))
        try await eventually("python-dbusmock owning org.freedesktop.systemd1") {
            try await connection.nameOwner("org.freedesktop.systemd1") != nil
        }
        // logind checks that the target unit is loaded before it announces PrepareForShutdown.
        for unit in ["poweroff_2etarget", "suspend_2etarget"] {
            _ = try await connection.call(try DBusMessage.methodCall(
                destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1", interface: "org.freedesktop.DBus.Mock",
                member: "AddObject",
                arguments: [
                    .string("/org/freedesktop/systemd1/unit/\(unit)"), .string("org.freedesktop.systemd1.Unit"),
                    .vardict(["LoadState": .string("loaded")]), .array(element: "(ssss)", []),
                ]))
        }
        logind = try spawnPeer("/lib/systemd/systemd-logind", [], environment: Self.environment(bus))
        try await eventually("systemd-logind owning org.freedesktop.login1") {
            try await connection.nameOwner(LogindManager.busName) != nil
        }
    }

    deinit {
        stopChild(logind.processIdentifier)
        stopChild(mock.processIdentifier)
        connection.close()
    }

    /// Kills logind and starts a new one (as a package upgrade or a crash would).
    public func restartLogind() async throws {
        stopChild(logind.processIdentifier)
        try await eventually("logind gone from the bus") { try await connection.nameOwner(LogindManager.busName) == nil }
        logind = try spawnPeer("/lib/systemd/systemd-logind", [], environment: Self.environment(bus))
        try await waitForLogind()
    }

    /// Kills logind for good.
    public func stopLogind() async throws {
        stopChild(logind.processIdentifier)
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
