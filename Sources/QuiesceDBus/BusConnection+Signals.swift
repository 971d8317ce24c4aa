import QuiesceThreads

/// Signal subscriptions as async sequences.
extension BusConnection {
    /// Signals matching `rule`, from now until the consumer stops iterating (or the connection
    /// ends). The rule is added to the bus before this returns, so nothing sent after the call is
    /// missed, and removed when the sequence ends: the match lives exactly as long as the sequence.
    public func signals(matching rule: MatchRule) async throws(DBusError) -> AsyncStream<DBusMessage> {
        try await signals(matchingAny: [rule])
    }

    /// Signals matching any of `rules`, in the order the bus delivered them: one sequence, so a
    /// client that must know which of two signals came first (a property change, then the sender
    /// leaving the bus) can. Each rule lives exactly as long as the sequence.
    public func signals(matchingAny rules: [MatchRule]) async throws(DBusError) -> AsyncStream<DBusMessage> {
        let (stream, continuation) = AsyncStream.makeStream(of: DBusMessage.self, bufferingPolicy: .bufferingNewest(256))
        let id = try sync { () throws(DBusError) -> UInt64 in
            guard !closed else { throw DBusError(name: .disconnected, message: "the connection is closed") }
            nextSubscription += 1
            subscriptions[nextSubscription] = Subscription(rules: rules, continuation: continuation)
            return nextSubscription
        }
        var added: [MatchRule] = []
        do {
            for rule in rules {
                _ = try await call(try Self.busCall("AddMatch", [.string(rule.description)]))
                added.append(rule)
            }
        } catch {
            try? sync { () throws(DBusError) in subscriptions[id] = nil }
            for rule in added { removeMatch(rule) }
            throw error
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.queue.async {
                guard self.subscriptions.removeValue(forKey: id) != nil, !self.closed, !self.leavingSoon else { return }
                for rule in rules { self.removeMatch(rule) }
            }
        }
        return stream
    }

    /// Says the connection is about to close: subscriptions that end from now on stop delivering
    /// at once but leave their rules to the bus, which forgets a connection's rules with it.
    ///
    /// Why: a program that stops its parts before it closes (the agent at a quit) ends their
    /// subscriptions one by one; each told the bus with a `RemoveMatch` that went out on the way
    /// to the close, ahead of it, for nothing.
    public func leaving() {
        queue.async { self.leavingSoon = true }
    }

    /// Tells the bus to forget a match rule; no reply is awaited.
    private func removeMatch(_ rule: MatchRule) {
        if let remove = try? Self.busCall("RemoveMatch", [.string(rule.description)]) {
            remove.expectNoReply()
            try? send(remove)
        }
    }

    /// A call to the bus daemon itself.
    static func busCall(_ member: String, _ arguments: [DBusValue]) throws(DBusError) -> DBusMessage {
        try DBusMessage.methodCall(
            destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus",
            member: member, arguments: arguments)
    }
}
