import CDBus
import QuiesceThreads

/// Serving objects: method dispatch with signature checks, and the standard interfaces.
extension BusConnection {
    static let introspectable = "org.freedesktop.DBus.Introspectable"
    static let properties = "org.freedesktop.DBus.Properties"
    static let peer = "org.freedesktop.DBus.Peer"

    /// Serves `object` on this connection until ``unexport(path:)`` or close.
    public func export(_ object: ExportedObject) throws(DBusError) {
        try Validation.path(object.path)
        try sync { () throws(DBusError) in objects[object.path] = object }
    }

    public func unexport(path: String) {
        try? sync { () throws(DBusError) in objects[path] = nil }
    }

    /// Returns once no method handler is running: every call taken in so far has been answered,
    /// its reply handed to libdbus (and written, at the latest, when the connection closes). For a
    /// service on its way out: refuse new calls first, then wait here, then close.
    public func handlersFinished() async {
        await handlers.finished()
    }

    /// Emits `PropertiesChanged` for `interface` at `path`.
    public func emitPropertiesChanged(path: String, interface: String, changed: [String: DBusValue], invalidated: [String] = []) throws(DBusError) {
        let signal = try DBusMessage.signal(
            path: path, interface: Self.properties, member: "PropertiesChanged",
            arguments: [.string(interface), .vardict(changed), .strings(invalidated)])
        try send(signal)
    }

    /// `PropertiesChanged` for `interface` at `path`, made on the connection's queue after what
    /// was queued before, and sent from there: `changes` runs as late as possible, so changes made
    /// meanwhile go out in one signal (an empty result sends nothing). The caller never waits for
    /// the queue, and a ``close()`` takes its turn after it, so what was asked for goes out first.
    public func emitPropertiesChangedLater(path: String, interface: String, _ changes: @escaping @Sendable () -> [String: DBusValue]) {
        queue.async { [self] in
            guard !closed else { return }
            let changed = changes()
            guard !changed.isEmpty else { return }
            try? emitPropertiesChanged(path: path, interface: interface, changed: changed)
        }
    }

    /// Runs on the queue: finds what answers the call and replies. The standard interfaces and
    /// every refusal answer right here on the queue; only our own handlers run in a task, since
    /// they may await. So Introspect, Ping and Properties never wait for Swift's thread pool.
    func handleMethodCall(_ message: DBusMessage) {
        if let seen = objects[message.path ?? ""]?.callerSeen, let sender = message.sender { seen(sender) }
        let answer = answerer(for: message)
        if case .immediate(let result) = answer {
            let reply: DBusMessage?
            switch result {
            case .success(let values): reply = message.noReplyExpected ? nil : try? message.reply(values)
            case .failure(let error): reply = message.noReplyExpected ? nil : try? message.errorReply(error)
            }
            if let reply { try? send(reply) }
            return
        }
        guard case .handler(let run) = answer else { return }
        handlers.begin()
        Task {
            defer { self.handlers.end() }
            let reply: DBusMessage?
            do {
                let values = try await run()
                reply = message.noReplyExpected ? nil : try message.reply(values)
            } catch let error as DBusError {
                reply = message.noReplyExpected ? nil : try? message.errorReply(error)
            } catch {
                reply = message.noReplyExpected ? nil : try? message.errorReply(DBusError(name: .failed, message: "\(error)"))
            }
            if let reply { try? self.send(reply) }
        }
    }

    /// How a call gets answered: at once (standard interfaces, refusals), or by a handler.
    enum Answer {
        case immediate(Result<[DBusValue], DBusError>)
        case handler(@Sendable () async throws -> [DBusValue])
    }

    /// What will answer `message`: a handler, or an error explaining why there is none.
    private func answerer(for message: DBusMessage) -> Answer {
        let path = message.path ?? ""
        let member = message.member ?? ""
        guard let object = objects[path] else {
            if message.interface == Self.introspectable && member == "Introspect" {
                return .immediate(.success([.string(introspectChildren(of: path))]))
            }
            return .immediate(.failure(DBusError(name: .unknownObject, message: "no object at \(path)")))
        }
        switch (message.interface, member) {
        case (Self.introspectable, "Introspect"), (nil, "Introspect"):
            return immediate(message, "") { () throws(DBusError) in [.string(object.introspectionXML)] }
        case (Self.peer, "Ping"), (nil, "Ping"):
            return immediate(message, "") { () throws(DBusError) in [] }
        case (Self.peer, "GetMachineId"):
            let id = dbus_try_get_local_machine_id_string()
            return immediate(message, "") { () throws(DBusError) in [.string(id)] }
        case (Self.properties, "Get"):
            return immediate(message, "ss") { () throws(DBusError) in
                let arguments = try Self.incoming(message)
                let property = try Self.property(in: object, interface: arguments[0].string ?? "", name: arguments[1].string ?? "")
                return [.variant(property.get())]
            }
        case (Self.properties, "GetAll"):
            return immediate(message, "s") { () throws(DBusError) in
                let name = try Self.incoming(message)[0].string ?? ""
                guard let interface = object.interfaces.first(where: { $0.name == name }) else {
                    if [Self.introspectable, Self.peer, Self.properties].contains(name) { return [.vardict([:])] }
                    throw DBusError(name: .unknownInterface, message: "\(path) has no interface \(name)")
                }
                return [.vardict(Dictionary(uniqueKeysWithValues: interface.properties.map { ($0.name, $0.get()) }))]
            }
        case (Self.properties, "Set"):
            return immediate(message, "ssv") { () throws(DBusError) in
                let arguments = try Self.incoming(message)
                let property = try Self.property(in: object, interface: arguments[0].string ?? "", name: arguments[1].string ?? "")
                throw DBusError(name: .propertyReadOnly, message: "\(property.name) is read-only")
            }
        default:
            let candidates = object.interfaces.filter { message.interface == nil || $0.name == message.interface }
            guard !candidates.isEmpty else {
                return .immediate(.failure(DBusError(name: .unknownInterface, message: "\(path) has no interface \(message.interface ?? "")")))
            }
            guard let method = candidates.lazy.compactMap({ $0.methods.first { $0.name == member } }).first else {
                return .immediate(.failure(DBusError(name: .unknownMethod, message: "\(message.interface ?? path) has no method \(member)")))
            }
            if let refusal = signatureRefusal(message, method.inSignature) { return .immediate(.failure(refusal)) }
            let call = message
            return .handler { try await method.handler(MethodCall(message: call, arguments: try Self.incoming(call))) }
        }
    }

    /// A call's arguments. What cannot be read is the caller's fault: `InvalidArgs`.
    static func incoming(_ call: DBusMessage) throws(DBusError) -> [DBusValue] {
        do {
            return try call.arguments()
        } catch {
            throw DBusError(name: .invalidArgs, message: error.message)
        }
    }

    /// Answers at once, after checking the arguments have `signature`.
    private func immediate(_ message: DBusMessage, _ signature: String, _ body: () throws(DBusError) -> [DBusValue]) -> Answer {
        if let refusal = signatureRefusal(message, signature) { return .immediate(.failure(refusal)) }
        return .immediate(Result { () throws(DBusError) -> [DBusValue] in try body() })
    }

    /// The `InvalidArgs` error for a call whose arguments do not have `signature`, naming both.
    private func signatureRefusal(_ message: DBusMessage, _ signature: String) -> DBusError? {
        guard message.signature != signature else { return nil }
        let got = message.signature.isEmpty ? "no arguments" : "(\(message.signature))"
        let wanted = signature.isEmpty ? "no arguments" : "(\(signature))"
        return DBusError(name: .invalidArgs, message: "\(message.member ?? "the method") takes \(wanted), not \(got)")
    }

    private static func property(in object: ExportedObject, interface: String, name: String) throws(DBusError) -> DBusProperty {
        guard let found = object.interfaces.first(where: { $0.name == interface }) else {
            throw DBusError(name: .unknownInterface, message: "\(object.path) has no interface \(interface)")
        }
        guard let property = found.properties.first(where: { $0.name == name }) else {
            throw DBusError(name: .unknownProperty, message: "\(interface) has no property \(name)")
        }
        return property
    }

    /// Introspection of a path above exported objects: just their names, so tools can walk down.
    private func introspectChildren(of path: String) -> String {
        let prefix = path == "/" ? "/" : path + "/"
        let children = Set(objects.keys.filter { $0.hasPrefix(prefix) }.compactMap {
            $0.dropFirst(prefix.count).split(separator: "/").first.map(String.init)
        }).sorted()
        let nodes = children.map { "  <node name=\"\($0)\"/>" }.joined(separator: "\n")
        return """
            <!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
            <node>
            \(nodes)
            </node>
            """
    }
}

/// The machine id, for `Peer.GetMachineId`.
private func dbus_try_get_local_machine_id_string() -> String {
    var error = quiesce_dbus_error_make()
    guard let raw = dbus_try_get_local_machine_id(&error) else {
        dbus_error_free(&error)
        return ""
    }
    defer { dbus_free(raw) }
    return String(cString: raw)
}
