public import QuiesceDBus

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
