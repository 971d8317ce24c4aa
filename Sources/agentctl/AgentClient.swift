import ArgumentParser
import QuiesceDBus
import QuiesceInterface

/// agentctl's side of the bus: one connection to the session bus and the agent's methods.
/// Failures become one line saying what to do, and an exit status.
struct AgentClient {
    let connection: BusConnection

    /// Connects to the session bus, or exits 1 saying why.
    static func connect() async throws -> AgentClient {
        do {
            return AgentClient(connection: try await BusConnection.session(environment: processEnvironment()))
        } catch {
            fail(noSessionBus(error))
        }
    }

    private static func noSessionBus(_ error: DBusError) -> String {
        "cannot reach the session bus (\(error.message)). Run agentctl inside your desktop session, where DBUS_SESSION_BUS_ADDRESS is set."
    }

    /// Whether the agent holds its name now.
    func agentOwner() async -> String? {
        (try? await connection.nameOwner(AgentInterface.busName)) ?? nil
    }

    /// Calls a method of the agent. An agent that is not running, or an error reply, ends the
    /// command with a message (exit 1).
    func call(_ method: AgentInterface.Method, _ arguments: [DBusValue] = [], timeout: Duration = .seconds(30)) async throws -> [DBusValue] {
        do {
            return try await connection.call(try Self.methodCall(method, arguments), timeout: timeout).arguments()
        } catch {
            throw Self.explain(error)
        }
    }

    /// Every property of the agent, or nil when it is not running.
    func properties() async -> [String: DBusValue]? {
        guard let reply = try? await connection.call(Self.getAll(), timeout: .seconds(10)) else { return nil }
        return Self.values(of: reply)
    }

    /// A connection that blocks this thread for each call (no threads started, no tasks), for the
    /// commands that make a few calls and exit; exits 1 when the session bus cannot be reached.
    static func connectNow() -> BlockingBusConnection {
        do {
            return try BlockingBusConnection.session()
        } catch {
            fail(noSessionBus(error))
        }
    }

    /// Every property of the agent, or nil when it is not running, over a connection of its own:
    /// all `agentctl status` needs, at the cost of a C client's call.
    static func propertiesNow() -> [String: DBusValue]? {
        let connection = connectNow()
        defer { connection.close() }
        return properties(over: connection)
    }

    /// Every property of the agent, or nil when it is not running.
    static func properties(over connection: BlockingBusConnection) -> [String: DBusValue]? {
        guard let reply = try? connection.call(getAll(), timeout: .seconds(10)) else { return nil }
        return values(of: reply)
    }

    /// ``call(_:_:timeout:)`` over a blocking connection.
    static func call(
        _ method: AgentInterface.Method, _ arguments: [DBusValue] = [], timeout: Duration = .seconds(30), over connection: BlockingBusConnection
    ) throws -> [DBusValue] {
        do {
            return try connection.call(try methodCall(method, arguments), timeout: timeout).arguments()
        } catch {
            throw explain(error)
        }
    }

    static func methodCall(_ method: AgentInterface.Method, _ arguments: [DBusValue]) throws(DBusError) -> DBusMessage {
        try DBusMessage.methodCall(
            destination: AgentInterface.busName, path: AgentInterface.path, interface: AgentInterface.interface, member: method.name,
            arguments: arguments)
    }

    static func getAll() throws(DBusError) -> DBusMessage {
        try DBusMessage.methodCall(
            destination: AgentInterface.busName, path: AgentInterface.path, interface: "org.freedesktop.DBus.Properties", member: "GetAll",
            arguments: [.string(AgentInterface.interface)])
    }

    static func values(of reply: DBusMessage) -> [String: DBusValue]? {
        try? reply.arguments().first?.vardict
    }

    static func explain(_ error: DBusError) -> ExitCode {
        switch error.name {
        case .serviceUnknown, .nameHasNoOwner:
            print(error: "the agent is not running. Start it with: systemctl --user start quiesce (or agentd)")
        case .noReply, .timedOut:
            print(error: "the agent did not answer in time (\(error.message)); it may be busy or stuck: agentctl status")
        default:
            let kind = error.name.rawValue.split(separator: ".").last.map(String.init) ?? error.name.rawValue
            print(error: "\(kind): \(error.message)")
        }
        return ExitCode(1)
    }
}

extension Dictionary where Key == String, Value == DBusValue {
    /// A property of the agent in a `GetAll` reply or a `PropertiesChanged` signal, by its
    /// generated constant: `properties[.activeSessions]`.
    subscript(property: AgentInterface.Property) -> DBusValue? {
        self[property.name]
    }
}

extension DBusValue {
    /// A plain value for JSON output.
    var json: JSONValue {
        switch unwrapped {
        case .string(let value): .string(value)
        case .boolean(let value): .bool(value)
        case .uint32(let value): .unsigned(UInt64(value))
        case .int64(let value): .integer(value)
        case .uint64(let value): .unsigned(value)
        case let other: .string("\(other)")
        }
    }
}
