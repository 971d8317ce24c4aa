import CDBus

#if canImport(Glibc)
import Glibc
#endif

/// A connection for a program that makes a call or two and exits (`agentctl status`): each call
/// blocks the calling thread until its reply, reading the socket itself, with no event loop, no
/// thread and no task.
///
/// Why beside ``BusConnection``: that one starts a thread to wait for the socket and a queue for
/// libdbus, and each reply crosses threads to resume a task. For a command that makes one call
/// and exits, those threads' starts and hand-offs were a third of its time (measured: `agentctl
/// status` against busctl, docs/benchmarks.md). Not for a program that serves calls, takes
/// signals or makes calls from several threads.
public final class BlockingBusConnection {
    private let raw: OpaquePointer
    /// The bus's name in errors ("session bus").
    private let label: String
    private var closed = false
    /// What ``subscription(_:)`` asked the bus for; ``nextSignal()`` returns only these.
    private var rules: [MatchRule] = []
    /// `Hello`, sent and not yet answered. Its answer is read with the first call's: the bus
    /// takes `Hello` first, so the first calls go out right behind it, and a command saves the
    /// round trip `dbus_bus_register` would have waited for.
    private var hello: OpaquePointer?
    private var name = ""

    /// The connection's unique name on the bus (`:1.42`); empty when the bus refused `Hello`.
    public var uniqueName: String {
        _ = try? registered()
        return name
    }

    /// The session bus, found as ``BusConnection/session(environment:)`` finds it.
    public static func session(environment: [String: String]) throws(DBusError) -> BlockingBusConnection {
        try BlockingBusConnection(address: try BusConnection.sessionAddress(environment: environment), label: "session bus")
    }

    /// The session bus of this process's own environment, its two variables read with `getenv`:
    /// a command that connects and exits need not copy its whole environment into a dictionary
    /// first (the first dictionary of strings costs the Swift runtime a walk through every
    /// protocol conformance in the binary).
    public static func session() throws(DBusError) -> BlockingBusConnection {
        let address = try BusConnection.sessionAddress { name in getenv(name).map { String(cString: $0) } }
        return try BlockingBusConnection(address: address, label: "session bus")
    }

    /// Opens a private connection to the bus at `address` and says Hello (answered with the
    /// first call).
    public init(address: String, label: String = "bus") throws(DBusError) {
        let (raw, _) = try BusConnection.openPrivate(address: address, register: false, label: label)
        self.raw = raw
        self.label = label
        var call: OpaquePointer?
        let message = try BusConnection.busCall("Hello", [])
        guard dbus_connection_send_with_reply(raw, message.handle, &call, BusConnection.milliseconds(.seconds(25))) != 0, let call else {
            closed = true
            dbus_connection_close(raw)
            dbus_connection_unref(raw)
            throw DBusError(name: .noMemory, message: "cannot say Hello to the \(label)")
        }
        hello = call
    }

    /// Waits for `Hello`'s answer, once; throws when the bus refused it.
    private func registered() throws(DBusError) {
        guard let call = hello else { return }
        hello = nil
        defer { dbus_pending_call_unref(call) }
        dbus_pending_call_block(call)
        do throws(DBusError) {
            guard let reply = dbus_pending_call_steal_reply(call) else {
                throw DBusError(name: .noReply, message: "no answer to Hello", kind: .timedOut)
            }
            let answer = try DBusMessage(adopting: reply).checkedReply()
            guard let unique = try answer.arguments().first?.string else {
                throw DBusError(name: .failed, message: "Hello was answered without a name")
            }
            name = unique
            _ = dbus_bus_set_unique_name(raw, unique)
        } catch {
            throw DBusError(name: error.name, message: "the \(label) refused us: \(error.message)")
        }
    }

    deinit {
        close()
    }

    /// Calls a method and returns its reply; an error reply is thrown with its D-Bus name, as
    /// ``BusConnection/call(_:timeout:)`` throws it.
    public func call(_ message: DBusMessage, timeout: Duration = .seconds(25)) throws(DBusError) -> DBusMessage {
        try callAll([message], timeout: timeout)[0].get()
    }

    /// Sends `messages` together, then waits for their answers: one round trip for calls that do
    /// not wait on each other's answers, which the bus and the peers handle in the order given.
    /// Returns each answer or the error it carries, in order; throws only when the connection is
    /// gone.
    public func callAll(_ messages: [DBusMessage], timeout: Duration = .seconds(25)) throws(DBusError) -> [Result<DBusMessage, DBusError>] {
        guard !closed, dbus_connection_get_is_connected(raw) != 0 else {
            throw DBusError(name: .disconnected, message: "the connection is closed")
        }
        var pending: [OpaquePointer] = []
        defer { pending.forEach { dbus_pending_call_unref($0) } }
        for message in messages {
            var call: OpaquePointer?
            guard dbus_connection_send_with_reply(raw, message.handle, &call, BusConnection.milliseconds(timeout)) != 0, let call else {
                throw DBusError(name: .disconnected, message: "the bus connection is gone")
            }
            pending.append(call)
        }
        // After the sends, so that they leave with Hello.
        try registered()
        return pending.map { call in
            dbus_pending_call_block(call)
            guard let reply = dbus_pending_call_steal_reply(call) else {
                return .failure(DBusError(name: .noReply, message: "no reply within the call's timeout", kind: .timedOut))
            }
            return Result { () throws(DBusError) in try DBusMessage(adopting: reply).checkedReply() }
        }
    }

    /// The `GetNameOwner` call for `name`, to send along with others through
    /// ``callAll(_:timeout:)``: its answer names the owner, or is the error `NameHasNoOwner`.
    public static func nameOwnerCall(_ name: String) throws(DBusError) -> DBusMessage {
        try BusConnection.busCall("GetNameOwner", [.string(name)])
    }

    /// The `AddMatch` call for `rule`, to send along with others through ``callAll(_:timeout:)``;
    /// what it matches is kept for ``nextSignal()`` from then on, in the order the bus delivered
    /// it (the bus forgets the rule when the connection closes). A well-known `sender` is matched
    /// by the bus alone (signals carry the sender's unique name).
    public func subscription(_ rule: MatchRule) throws(DBusError) -> DBusMessage {
        let call = try BusConnection.busCall("AddMatch", [.string(rule.description)])
        rules.append(rule)
        return call
    }

    /// The next signal that matches a rule given to ``subscription(_:)``, waiting for it as long as it
    /// takes; anything else that arrives is dropped. Throws `Disconnected` when the bus goes away.
    public func nextSignal() throws(DBusError) -> DBusMessage {
        try registered()
        while true {
            guard !closed else { throw DBusError(name: .disconnected, message: "the connection is closed") }
            if let raw = dbus_connection_pop_message(raw) {
                let message = DBusMessage(adopting: raw)
                if message.kind == .signal, rules.contains(where: { $0.matches(message) }) { return message }
                continue
            }
            guard dbus_connection_read_write(raw, -1) != 0 else {
                throw DBusError(name: .disconnected, message: "the bus connection is gone")
            }
        }
    }

    /// Closes the connection; later calls fail with `Disconnected`.
    public func close() {
        guard !closed else { return }
        closed = true
        if let hello { dbus_pending_call_unref(hello) }
        hello = nil
        dbus_connection_close(raw)
        dbus_connection_unref(raw)
    }
}
