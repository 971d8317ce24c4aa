import Foundation
public import QuiesceDBus
public import QuiesceInterface

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

    /// - Parameter extraEnvironment: more for the agent's environment (DISPLAY, XDG_DATA_HOME …).
    public init(
        busAddress: String, systemBusAddress: String? = nil, owner: AnyObject? = nil, extraEnvironment: [String: String] = [:]
    ) async throws {
        self.busAddress = busAddress
        self.owner = owner
        home = TemporaryDirectory("quiesce-agent")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("QUIESCE_") && !$0.key.hasPrefix("XDG_") }
        environment["HOME"] = home.path
        environment["XDG_STATE_HOME"] = home.file("state")
        environment["XDG_CONFIG_HOME"] = home.file("config")
        environment["DBUS_SESSION_BUS_ADDRESS"] = busAddress
        environment["DBUS_SYSTEM_BUS_ADDRESS"] = systemBusAddress ?? "unix:path=\(home.file("no-system-bus"))"
        environment.merge(extraEnvironment) { $1 }
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
    /// - Parameter obeyingPermissions: run it without the capabilities that let root read any
    ///   file (`CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`, dropped by `setpriv`), so a file or folder
    ///   of mode 000 is unreadable to it as to a user's agent (the tests run as root).
    public func start(_ arguments: [String] = [], waitUntilRunning: Bool = true, obeyingPermissions: Bool = false) async throws -> PeerProcess {
        let agent = obeyingPermissions
            ? try PeerProcess(
                "/usr/bin/setpriv", ["--bounding-set=-dac_override,-dac_read_search", "--", builtProduct("agentd")] + arguments,
                environment: environment, logFile: logPath)
            : try PeerProcess(builtProduct("agentd"), arguments, environment: environment, logFile: logPath)
        if waitUntilRunning {
            try await eventually("agentd owning \(AgentInterface.busName)") {
                try await self.control.nameOwner(AgentInterface.busName) != nil || !agent.isRunning
            }
            guard agent.isRunning else { throw AgentDidNotStart(log: log) }
            try await eventually("agentd running") { try await self.property(.state) == .string("running") }
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
    public func call(_ method: AgentInterface.Method, _ arguments: [DBusValue] = []) async throws(DBusError) -> [DBusValue] {
        try await control.callAgent(member: method.name, arguments, timeout: .seconds(10))
    }

    /// Calls a member by name, for names the interface does not have (the refusals' tests).
    public func call(member: String, _ arguments: [DBusValue] = []) async throws(DBusError) -> [DBusValue] {
        try await control.callAgent(member: member, arguments, timeout: .seconds(10))
    }

    /// One property of the agent.
    public func property(_ property: AgentInterface.Property) async throws -> DBusValue? {
        try await control.agentProperty(property)
    }

    /// Whether no job waits and none is being copied (by the agent's properties).
    public func queueSettled() async throws -> Bool {
        let queued = try await property(.queuedJobs)
        let inFlight = try await property(.inFlightJobs)
        return queued == .uint32(0) && inFlight == .uint32(0)
    }
}

extension BusConnection {
    /// Calls a method of the agent (`AgentInterface`) from this connection.
    public func callAgent(_ method: AgentInterface.Method, _ arguments: [DBusValue] = [], timeout: Duration = .seconds(20)) async throws(DBusError)
        -> [DBusValue]
    {
        try await callAgent(member: method.name, arguments, timeout: timeout)
    }

    /// Calls a member of the agent's interface by name, whether or not the interface has it.
    public func callAgent(member: String, _ arguments: [DBusValue] = [], timeout: Duration = .seconds(20)) async throws(DBusError) -> [DBusValue] {
        let message = try DBusMessage.methodCall(
            destination: AgentInterface.busName, path: AgentInterface.path, interface: AgentInterface.interface, member: member, arguments: arguments)
        return try await call(message, timeout: timeout).arguments()
    }

    /// One property of the agent.
    public func agentProperty(_ property: AgentInterface.Property) async throws(DBusError) -> DBusValue? {
        let message = try DBusMessage.methodCall(
            destination: AgentInterface.busName, path: AgentInterface.path, interface: "org.freedesktop.DBus.Properties", member: "Get",
            arguments: [.string(AgentInterface.interface), .string(property.name)])
        return try await call(message, timeout: .seconds(10)).arguments().first?.unwrapped
    }
}

/// agentd exited before it owned its name.
public struct AgentDidNotStart: Error, CustomStringConvertible {
    public let log: String
    public var description: String { "agentd exited during start:\n\(log)" }
}
