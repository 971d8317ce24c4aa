/// Which signals a subscription receives: sent to the bus as an `AddMatch` rule, and checked
/// again locally because one connection carries every subscription's signals.
public struct MatchRule: Sendable, Hashable, CustomStringConvertible {
    public var sender: String?
    public var interface: String?
    public var member: String?
    public var path: String?
    /// The first argument, when it is a string (NameOwnerChanged's name).
    public var arg0: String?

    public init(sender: String? = nil, interface: String? = nil, member: String? = nil, path: String? = nil, arg0: String? = nil) {
        self.sender = sender
        self.interface = interface
        self.member = member
        self.path = path
        self.arg0 = arg0
    }

    /// The rule in the bus's syntax.
    public var description: String {
        var parts = ["type='signal'"]
        for (key, value) in [("sender", sender), ("interface", interface), ("member", member), ("path", path), ("arg0", arg0)] {
            if let value { parts.append("\(key)='\(value.replacingQuotes())'") }
        }
        return parts.joined(separator: ",")
    }

    /// Whether `message` is a signal this rule asks for. A well-known sender name is not compared
    /// here — signals carry the sender's unique name — the bus has already filtered on it.
    func matches(_ message: DBusMessage) -> Bool {
        guard message.kind == .signal else { return false }
        if let interface, message.interface != interface { return false }
        if let member, message.member != member { return false }
        if let path, message.path != path { return false }
        if let sender, sender.hasPrefix(":"), message.sender != sender { return false }
        if let arg0 {
            guard let first = try? message.arguments().first?.string, first == arg0 else { return false }
        }
        return true
    }
}

extension String {
    /// Match rules quote values with '; a quote inside is written '\\''.
    fileprivate func replacingQuotes() -> String {
        split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\\\''")
    }
}
