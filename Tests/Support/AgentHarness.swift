import Foundation
public import QuiesceDBus

/// The real `agentd` and `agentctl` binaries on a private session bus, with a home of their own.
///
/// The system bus is the logind rig's when one is given; otherwise an address where nothing
/// listens, so the agent runs without logind and never reaches the machine's real system bus.
public final class AgentHarness: @unchecked Sendable {
    // Safe: set once in init.
    public let busAddress: String
    public let control: BusConnection
    public let home: TemporaryDirectory
    public let environment: [String: String]
    /// What owns the bus (a mock server, a rig): kept alive as long as the harness.
    private let owner: AnyObject?

    public static let busName = "io.github.quiesce.Agent1"
    public static let path = "/io/github/quiesce/Agent1"

    public init(busAddress: String, systemBusAddress: String? = nil, owner: AnyObject? = nil) async throws {
        self.busAddress = busAddress
        self.owner = owner
        home = TemporaryDirectory("quiesce-agent")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("QUIESCE_") && !$0.key.hasPrefix("XDG_") }
        environment["HOME"] = home.path
        environment["XDG_STATE_HOME"] = home.file("state")
        environment["XDG_CONFIG_HOME"] = home.file("config")
        environment["DBUS_SESSION_BUS_ADDRESS"] = busAddress
        environment["DBUS_SYSTEM_BUS_ADDRESS"] = systemBusAddress ?? "unix:path=\(home.file("no-system-bus"))"
        self.environment = environment
        control = try await BusConnection.open(address: busAddress, label: "test control")
    }

    deinit {
        control.close()
    }

    /// The database the agent uses by default.
    public var databasePath: String { home.file("state/quiesce/agent.db") }
    /// Where the agent's stderr goes.
    public var logPath: String { home.file("agentd.log") }

    /// Starts `agentd` with `arguments`; waits until it owns its name unless told not to.
    public func start(_ arguments: [String] = [], waitUntilRunning: Bool = true) async throws -> PeerProcess {
        let agent = try PeerProcess(builtProduct("agentd"), arguments, environment: environment, logFile: logPath)
        if waitUntilRunning {
            try await eventually("agentd owning \(Self.busName)") {
                try await self.control.nameOwner(Self.busName) != nil || !agent.isRunning
            }
            guard agent.isRunning else { throw AgentDidNotStart(log: log) }
            try await eventually("agentd running") { try await self.property("State") == .string("running") }
        }
        return agent
    }

    /// What the agent has logged so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Runs `agentctl` to completion.
    public func ctl(_ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
        try await run(builtProduct("agentctl"), arguments, environment: environment)
    }

    /// Calls a method of the agent.
    public func call(_ member: String, _ arguments: [DBusValue] = [], signature: String? = nil) async throws(DBusError) -> [DBusValue] {
        try await control.callAgent(member, arguments, timeout: .seconds(10))
    }

    /// One property of the agent.
    public func property(_ name: String) async throws -> DBusValue? {
        try await control.agentProperty(name)
    }

    /// Whether no job waits and none is being copied (by the agent's properties).
    public func queueSettled() async throws -> Bool {
        let queued = try await property("QueuedJobs")
        let inFlight = try await property("InFlightJobs")
        return queued == .uint32(0) && inFlight == .uint32(0)
    }
}

extension BusConnection {
    /// Calls a method of the agent (`io.github.quiesce.Agent1`) from this connection.
    public func callAgent(_ member: String, _ arguments: [DBusValue] = [], timeout: Duration = .seconds(20)) async throws(DBusError) -> [DBusValue] {
        let message = try DBusMessage.methodCall(
            destination: AgentHarness.busName, path: AgentHarness.path, interface: AgentHarness.busName, member: member, arguments: arguments)
        return try await call(message, timeout: timeout).arguments()
    }

    /// One property of the agent.
    public func agentProperty(_ name: String) async throws(DBusError) -> DBusValue? {
        let message = try DBusMessage.methodCall(
            destination: AgentHarness.busName, path: AgentHarness.path, interface: "org.freedesktop.DBus.Properties", member: "Get",
            arguments: [.string(AgentHarness.busName), .string(name)])
        return try await call(message, timeout: .seconds(10)).arguments().first?.unwrapped
    }
}

/// agentd exited before it owned its name.
public struct AgentDidNotStart: Error, CustomStringConvertible {
    public let log: String
    public var description: String { "agentd exited during start:\n\(log)" }
}
