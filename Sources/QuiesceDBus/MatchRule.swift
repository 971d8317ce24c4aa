/// Which signals a subscription receives: sent to the bus as an `AddMatch` rule, and checked
/// again locally because one connection carries every subscription's signals.
public struct MatchRule: Sendable, Hashable, CustomStringConvertible {
    public var sender: String?
    public var interface: String?
    public var member: String?
    public var path: String?
    /// The first argument, when it is a string (NameOwnerChanged's name).
    public var arg0: String?
    /// The third argument, when it is a string (NameOwnerChanged's new owner: "" for a name
    /// that lost its owner).
    public var arg2: String?

    public init(
        sender: String? = nil, interface: String? = nil, member: String? = nil, path: String? = nil, arg0: String? = nil,
        arg2: String? = nil
    ) {
        self.sender = sender
        self.interface = interface
        self.member = member
        self.path = path
        self.arg0 = arg0
        self.arg2 = arg2
    }

    /// The bus daemon's `NameOwnerChanged`: of one name (`name`, its first argument), or only the
    /// changes to one new owner (`newOwner`, the third: "" for a name that lost its owner).
    public static func nameOwnerChanged(of name: String? = nil, newOwner: String? = nil) -> MatchRule {
        MatchRule(
            sender: "org.freedesktop.DBus", interface: "org.freedesktop.DBus", member: "NameOwnerChanged", path: "/org/freedesktop/DBus",
            arg0: name, arg2: newOwner)
    }

    /// The rule in the bus's syntax.
    ///
    /// Built by concatenation, without `joined` or `split`: their generic paths make the Swift
    /// runtime look a conformance up by name, a walk through every conformance in the binary,
    /// on the path of every `agentctl quit` (which subscribes before it asks).
    public var description: String {
        var rule = "type='signal'"
        for (key, value) in [("sender", sender), ("interface", interface), ("member", member), ("path", path), ("arg0", arg0), ("arg2", arg2)] {
            if let value { rule += "," + key + "='" + value.replacingQuotes() + "'" }
        }
        return rule
    }

    /// Whether `message` is a signal this rule asks for. A well-known sender name is not compared
    /// here — signals carry the sender's unique name — the bus has already filtered on it.
    func matches(_ message: DBusMessage) -> Bool {
        guard message.kind == .signal else { return false }
        if let interface, message.interface != interface { return false }
        if let member, message.member != member { return false }
        if let path, message.path != path { return false }
        if let sender, sender.hasPrefix(":"), message.sender != sender { return false }
        if arg0 != nil || arg2 != nil {
            guard let arguments = try? message.arguments() else { return false }
            if let arg0, arguments.first?.string != arg0 { return false }
            if let arg2, arguments.count < 3 || arguments[2].string != arg2 { return false }
        }
        return true
    }
}

extension String {
    /// Match rules quote values with '. Inside quotes a backslash is itself, so a quote in a
    /// value ends the quoted part, follows as `\'` and opens it again: `it's` is `'it'\''s'`.
    /// (Written `'\\''` before, which the bus read as a backslash, an empty quote and an
    /// unbalanced one: it refused the rule.)
    fileprivate func replacingQuotes() -> String {
        guard utf8.contains(UInt8(ascii: "'")) else { return self }
        var quoted = ""
        for scalar in unicodeScalars {
            if scalar == "'" { quoted += "'\\''" } else { quoted.unicodeScalars.append(scalar) }
        }
        return quoted
    }
}
