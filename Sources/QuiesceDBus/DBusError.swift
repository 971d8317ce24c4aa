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
    }

    public var name: Name
    public var message: String

    public init(name: Name, message: String) {
        self.name = name
        self.message = message
    }

    /// Takes what libdbus put in `error`, and frees it.
    init(consuming error: inout CDBus.DBusError) {
        name = Name(rawValue: error.name.map { String(cString: $0) } ?? Name.failed.rawValue)
        message = error.message.map { String(cString: $0) } ?? ""
        dbus_error_free(&error)
    }

    public var description: String { "\(name): \(message)" }

    /// A malformed or unexpected message: always an error value, never a crash.
    static func malformed(_ what: String) -> DBusError {
        DBusError(name: .invalidArgs, message: what)
    }
}
