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
    private var closed = false

    /// The connection's unique name on the bus (`:1.42`).
    public let uniqueName: String

    /// The session bus, found as ``BusConnection/session(environment:)`` finds it.
    public static func session(environment: [String: String]) throws(DBusError) -> BlockingBusConnection {
        try BlockingBusConnection(address: try BusConnection.sessionAddress(environment: environment), label: "session bus")
    }

    /// Opens a private connection to the bus at `address` and says Hello.
    public init(address: String, label: String = "bus") throws(DBusError) {
        let (raw, unique) = try BusConnection.openPrivate(address: address, register: true, label: label)
        self.raw = raw
        // Hello succeeded, so the bus gave a name.
        uniqueName = unique ?? ""
    }

    deinit {
        close()
    }

    /// Calls a method and returns its reply; an error reply is thrown with its D-Bus name, as
    /// ``BusConnection/call(_:timeout:)`` throws it.
    public func call(_ message: DBusMessage, timeout: Duration = .seconds(25)) throws(DBusError) -> DBusMessage {
        guard !closed, dbus_connection_get_is_connected(raw) != 0 else {
            throw DBusError(name: .disconnected, message: "the connection is closed")
        }
        var pending: OpaquePointer?
        guard dbus_connection_send_with_reply(raw, message.handle, &pending, BusConnection.milliseconds(timeout)) != 0,
            let pending
        else {
            throw DBusError(name: .disconnected, message: "the bus connection is gone")
        }
        defer { dbus_pending_call_unref(pending) }
        dbus_pending_call_block(pending)
        guard let reply = dbus_pending_call_steal_reply(pending) else {
            throw DBusError(name: .noReply, message: "no reply within the call's timeout", kind: .timedOut)
        }
        return try DBusMessage(adopting: reply).checkedReply()
    }

    /// Closes the connection; later calls fail with `Disconnected`.
    public func close() {
        guard !closed else { return }
        closed = true
        dbus_connection_close(raw)
        dbus_connection_unref(raw)
    }
}
