public import QuiesceDBus
public import QuiesceTestSupport

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
        return try await call(message, timeout: .seconds(20)).arguments().first?.unwrapped
    }
}

extension DBusError {
    /// The call never reached a live agent, or its reply was lost with it (killed, exited, bus
    /// gone): what the caller knows is only that the outcome is unknown.
    public var agentGone: Bool {
        [.noReply, .serviceUnknown, .nameHasNoOwner, .disconnected, .timedOut].contains(name)
    }
}

/// The job ids of an `Enqueue` reply.
func jobIDs(_ reply: [DBusValue]) -> [UInt64] {
    reply.first?.array?.compactMap(\.uint64) ?? []
}

extension AgentHarness {
    /// Whether no job waits and none is being copied (by the agent's properties).
    public func queueSettled() async throws -> Bool {
        let queued = try await property("QueuedJobs")
        let inFlight = try await property("InFlightJobs")
        return queued == .uint32(0) && inFlight == .uint32(0)
    }
}
