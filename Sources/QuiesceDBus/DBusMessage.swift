import CDBus

/// One D-Bus message: a method call, a reply, an error or a signal.
///
/// Owns one reference to the libdbus message. Its fields are read once at creation and copied into
/// Swift values (libdbus hands out borrowed strings), so a `DBusMessage` can travel between tasks;
/// the raw handle is used only to send it.
public final class DBusMessage: @unchecked Sendable {
    // Safe: `handle` is never mutated after init; libdbus messages are only sent once built, and the
    // fields below are immutable copies.
    let handle: OpaquePointer

    public enum Kind: Sendable, Hashable {
        case methodCall
        case methodReturn
        case error
        case signal
        case other(Int32)
    }

    public let kind: Kind
    public let path: String?
    public let interface: String?
    public let member: String?
    public let sender: String?
    public let destination: String?
    public let errorName: String?
    /// The body's signature ("" for none).
    public let signature: String
    public let serial: UInt32
    public let replySerial: UInt32

    /// Adopts a reference the caller owns.
    init(adopting handle: OpaquePointer) {
        self.handle = handle
        switch Int32(dbus_message_get_type(handle)) {
        case QDBUS_MESSAGE_TYPE_METHOD_CALL: kind = .methodCall
        case QDBUS_MESSAGE_TYPE_METHOD_RETURN: kind = .methodReturn
        case QDBUS_MESSAGE_TYPE_ERROR: kind = .error
        case QDBUS_MESSAGE_TYPE_SIGNAL: kind = .signal
        case let other: kind = .other(other)
        }
        path = dbus_message_get_path(handle).map { String(cString: $0) }
        interface = dbus_message_get_interface(handle).map { String(cString: $0) }
        member = dbus_message_get_member(handle).map { String(cString: $0) }
        sender = dbus_message_get_sender(handle).map { String(cString: $0) }
        destination = dbus_message_get_destination(handle).map { String(cString: $0) }
        errorName = dbus_message_get_error_name(handle).map { String(cString: $0) }
        signature = dbus_message_get_signature(handle).map { String(cString: $0) } ?? ""
        serial = dbus_message_get_serial(handle)
        replySerial = dbus_message_get_reply_serial(handle)
    }

    deinit {
        dbus_message_unref(handle)
    }

    // MARK: Building

    /// A method call with `arguments` as its body.
    public static func methodCall(
        destination: String?, path: String, interface: String?, member: String, arguments: [DBusValue] = []
    ) throws(DBusError) -> DBusMessage {
        try Validation.path(path)
        try Validation.member(member)
        if let interface { try Validation.interface(interface) }
        guard let raw = dbus_message_new_method_call(destination, path, interface, member) else {
            throw DBusError(name: .noMemory, message: "cannot allocate a method call")
        }
        return try finish(raw, arguments)
    }

    /// A signal from `path`; with `destination`, sent to that connection only (a unicast signal,
    /// such as progress meant for one caller) rather than to everyone whose match rules want it.
    public static func signal(
        path: String, interface: String, member: String, arguments: [DBusValue] = [], destination: String? = nil
    ) throws(DBusError) -> DBusMessage {
        try Validation.path(path)
        try Validation.interface(interface)
        try Validation.member(member)
        if let destination { try Validation.busName(destination) }
        guard let raw = dbus_message_new_signal(path, interface, member) else {
            throw DBusError(name: .noMemory, message: "cannot allocate a signal")
        }
        if let destination, dbus_message_set_destination(raw, destination) == 0 {
            dbus_message_unref(raw)
            throw DBusError(name: .noMemory, message: "cannot allocate a signal")
        }
        return try finish(raw, arguments)
    }

    /// The successful reply to this call.
    public func reply(_ values: [DBusValue] = []) throws(DBusError) -> DBusMessage {
        guard let raw = dbus_message_new_method_return(handle) else {
            throw DBusError(name: .noMemory, message: "cannot allocate a reply")
        }
        return try Self.finish(raw, values)
    }

    /// The error reply to this call.
    public func errorReply(_ error: DBusError) throws(DBusError) -> DBusMessage {
        let name = Validation.isValidErrorName(error.name.rawValue) ? error.name : DBusError.Name.failed
        guard let raw = dbus_message_new_error(handle, name.rawValue, error.message.replacingNULs()) else {
            throw DBusError(name: .noMemory, message: "cannot allocate an error reply")
        }
        return DBusMessage(adopting: raw)
    }

    private static func finish(_ raw: OpaquePointer, _ values: [DBusValue]) throws(DBusError) -> DBusMessage {
        do {
            try MessageWriter.append(values, to: raw)
        } catch {
            dbus_message_unref(raw)
            throw error
        }
        return DBusMessage(adopting: raw)
    }

    // MARK: Reading

    /// The body, decoded. Malformed content is an error, never a crash.
    public func arguments() throws(DBusError) -> [DBusValue] {
        try MessageReader.read(handle)
    }

    /// For an error message: the error it carries.
    public var error: DBusError? {
        guard kind == .error else { return nil }
        let text = (try? arguments())?.first?.string ?? ""
        return DBusError(name: .init(rawValue: errorName ?? DBusError.Name.failed.rawValue), message: text, kind: .remote)
    }

    /// This message as a call's answer: itself, or the error it carries, thrown.
    func checkedReply() throws(DBusError) -> DBusMessage {
        if kind == .error, var error {
            // libdbus answers a call whose timeout ran out with a NoReply of its own making (no
            // sender); the bus's NoReply (the peer left without answering) comes from the bus.
            if error.name == .noReply, sender == nil { error.kind = .timedOut }
            throw error
        }
        return self
    }

    public var noReplyExpected: Bool { dbus_message_get_no_reply(handle) != 0 }

    /// Marks the message as wanting no reply: for calls sent and forgotten (RemoveMatch,
    /// CloseNotification from a withdrawn prompt).
    func expectNoReply() {
        dbus_message_set_no_reply(handle, 1)
    }

    /// Keeps the bus from starting the destination's service for this call (D-Bus activation):
    /// for a question to a service that may be stopped and must stay so.
    public func withoutActivation() -> DBusMessage {
        dbus_message_set_auto_start(handle, 0)
        return self
    }
}

extension String {
    /// D-Bus strings may not contain NUL; messages we make up replace it rather than fail.
    func replacingNULs() -> String {
        contains("\0") ? replacingOccurrences(of: "\0", with: "\u{FFFD}") : self
    }

    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
