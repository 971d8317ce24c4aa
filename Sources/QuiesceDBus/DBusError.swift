import CDBus

/// An error as D-Bus carries it: a name and a human message.
///
/// Errors from the bus keep their name (`org.freedesktop.DBus.Error.ServiceUnknown`), so callers
/// can tell "no notification server" from "it refused". Errors this process raises go on the wire
/// under the same name.
public struct DBusError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A D-Bus error name.
    public struct Name: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }
        public var description: String { rawValue }

        public static let failed: Name = "org.freedesktop.DBus.Error.Failed"
        public static let noReply: Name = "org.freedesktop.DBus.Error.NoReply"
        public static let timedOut: Name = "org.freedesktop.DBus.Error.Timeout"
        public static let serviceUnknown: Name = "org.freedesktop.DBus.Error.ServiceUnknown"
        public static let nameHasNoOwner: Name = "org.freedesktop.DBus.Error.NameHasNoOwner"
        public static let unknownMethod: Name = "org.freedesktop.DBus.Error.UnknownMethod"
        public static let unknownObject: Name = "org.freedesktop.DBus.Error.UnknownObject"
        public static let unknownInterface: Name = "org.freedesktop.DBus.Error.UnknownInterface"
        public static let unknownProperty: Name = "org.freedesktop.DBus.Error.UnknownProperty"
        public static let propertyReadOnly: Name = "org.freedesktop.DBus.Error.PropertyReadOnly"
        public static let invalidArgs: Name = "org.freedesktop.DBus.Error.InvalidArgs"
        public static let accessDenied: Name = "org.freedesktop.DBus.Error.AccessDenied"
        public static let disconnected: Name = "org.freedesktop.DBus.Error.Disconnected"
        public static let notSupported: Name = "org.freedesktop.DBus.Error.NotSupported"
        public static let noMemory: Name = "org.freedesktop.DBus.Error.NoMemory"
        /// Ours: the calling task was cancelled before the reply came.
        public static let cancelled: Name = "io.github.quiesce.DBus.Error.Cancelled"
        /// Ours: a peer's reply or signal had the wrong shape.
        public static let malformedReply: Name = "io.github.quiesce.DBus.Error.MalformedReply"
    }

    /// What kind of failure this is, for a caller deciding what to do: try again later, give up,
    /// tell the user the peer is broken. The name says which error exactly.
    public enum Kind: Sendable, Hashable {
        /// The peer answered with an error reply (its name says which).
        case remote
        /// Our connection is closed or went away: nothing was, or will be, answered.
        case disconnected
        /// No reply came within the call's timeout.
        case timedOut
        /// The calling task was cancelled; the call was abandoned.
        case cancelled
        /// A reply or signal did not have the shape it must have: the peer's fault, not the caller's.
        case malformedReply
        /// Raised in this process: a handler's refusal, or arguments we could not send.
        case local
    }

    public var name: Name
    public var message: String
    public var kind: Kind

    /// - Parameter kind: what kind of failure; by default `disconnected` for that name and
    ///   `local` for any other.
    public init(name: Name, message: String, kind: Kind? = nil) {
        self.name = name
        self.message = message
        self.kind = kind ?? (name == .disconnected ? .disconnected : .local)
    }

    /// Takes what libdbus put in `error`, and frees it.
    init(consuming error: inout CDBus.DBusError) {
        name = Name(rawValue: error.name.map { String(cString: $0) } ?? Name.failed.rawValue)
        message = error.message.map { String(cString: $0) } ?? ""
        kind = name == .disconnected ? .disconnected : .local
        dbus_error_free(&error)
    }

    public var description: String { "\(name): \(message)" }

    /// A reply or signal of the wrong shape. Not `InvalidArgs`, which would blame the caller.
    static func malformed(_ what: String) -> DBusError {
        DBusError(name: .malformedReply, message: what, kind: .malformedReply)
    }

    /// Arguments this process was about to send are not valid D-Bus: the caller's own mistake.
    static func invalidArgument(_ what: String) -> DBusError {
        DBusError(name: .invalidArgs, message: what, kind: .local)
    }

    /// Our connection is gone.
    static func disconnected(_ what: String) -> DBusError {
        DBusError(name: .disconnected, message: what, kind: .disconnected)
    }
}
