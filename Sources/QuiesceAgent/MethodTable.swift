import QuiesceDBus
import QuiesceInterface

/// The agent's methods as exported: one for each method of `dbus/io.github.quiesce.Agent1.xml`,
/// in its order, with the name and signatures generated from it and the handler the service gives.
///
/// Built by walking `AgentInterface.Method.all` rather than by listing names, so nothing here can
/// drift from the XML: a handler can only be given for a method the XML declares (no other
/// `AgentInterface.Method` exists), a signature cannot be mistyped, and a method the XML declares
/// without a handler stops the agent at start, naming it, instead of answering `UnknownMethod` to
/// whoever calls it.
enum MethodTable {
    /// What answers a call: its reply's values, or an error (a ``DBusError`` goes on the wire as it
    /// is).
    typealias Handler = @Sendable (MethodCall) async throws -> [DBusValue]

    /// - Parameter handlers: a handler for each method of the interface.
    /// - Throws: ``AgentStartError/interfaceMismatch(_:)`` naming the first method without a
    ///   handler.
    static func methods(_ handlers: [AgentInterface.Method: Handler]) throws(AgentStartError) -> [DBusMethod] {
        try AgentInterface.Method.all.map { method throws(AgentStartError) in
            guard let handler = handlers[method] else {
                throw .interfaceMismatch("no handler answers the method \(method)")
            }
            return DBusMethod(method.name, in: method.inSignature, out: method.outSignature, handler: handler)
        }
    }
}
