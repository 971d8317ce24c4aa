/// A method an exported object answers: its name, the signatures it takes and returns, and the
/// code that answers. A call whose signature differs is refused with `InvalidArgs` before the
/// handler runs.
public struct DBusMethod: Sendable {
    public var name: String
    public var inSignature: String
    public var outSignature: String
    /// May throw any error: a ``DBusError`` goes on the wire under its own name, anything else as
    /// `org.freedesktop.DBus.Error.Failed` with its description.
    public var handler: @Sendable (MethodCall) async throws -> [DBusValue]

    public init(
        _ name: String, in inSignature: String = "", out outSignature: String = "",
        handler: @escaping @Sendable (MethodCall) async throws -> [DBusValue]
    ) {
        self.name = name
        self.inSignature = inSignature
        self.outSignature = outSignature
        self.handler = handler
    }
}

/// A read-only property, read when asked (so `Get` is always current).
public struct DBusProperty: Sendable {
    public var name: String
    public var signature: String
    public var get: @Sendable () -> DBusValue

    public init(_ name: String, signature: String, get: @escaping @Sendable () -> DBusValue) {
        self.name = name
        self.signature = signature
        self.get = get
    }
}

/// One interface of an exported object: a table of methods and properties, like an sd-bus vtable.
public struct DBusInterface: Sendable {
    public var name: String
    public var methods: [DBusMethod]
    public var properties: [DBusProperty]

    public init(_ name: String, methods: [DBusMethod] = [], properties: [DBusProperty] = []) {
        self.name = name
        self.methods = methods
        self.properties = properties
    }
}

/// An incoming method call, with its caller and decoded arguments.
public struct MethodCall: Sendable {
    public let message: DBusMessage
    public let arguments: [DBusValue]
    /// The caller's unique bus name.
    public var sender: String { message.sender ?? "" }
}

/// An object this process serves at `path`.
public struct ExportedObject: Sendable {
    public var path: String
    public var interfaces: [DBusInterface]
    /// What `Introspect` answers: the interface XML from `dbus/`, the one source of truth.
    public var introspectionXML: String
    /// Told the sender of every call to the object as it arrives, before it is answered — reads
    /// of properties and introspection included. On the connection's queue: must not block. A
    /// service that checks who calls it starts looking the caller up here, so its first method
    /// call does not wait for the bus's answer.
    public var callerSeen: (@Sendable (String) -> Void)?

    public init(
        path: String, interfaces: [DBusInterface], introspectionXML: String, callerSeen: (@Sendable (String) -> Void)? = nil
    ) {
        self.path = path
        self.interfaces = interfaces
        self.introspectionXML = introspectionXML
        self.callerSeen = callerSeen
    }
}
