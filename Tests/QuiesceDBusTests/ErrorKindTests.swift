import Foundation
import QuiesceDBus
import QuiesceTestSupport
import Testing

/// What a caller can tell apart when a call fails: the peer's own error, a closed connection, no
/// reply in time, its own cancellation, and a reply of the wrong shape (never blamed on the
/// caller as InvalidArgs).
@Suite("D-Bus error kinds")
struct ErrorKindTests {
    private func mock(_ bus: PrivateBus, name: String, path: String, interface: String) async throws -> (PeerProcess, BusConnection) {
        let peer = try PeerProcess("/usr/bin/python3", ["-m", "dbusmock", "--session", name, path, interface], environment: bus.sessionEnvironment)
        let control = try await BusConnection.open(address: bus.address)
        try await eventually("python-dbusmock owning \(name)") { try await control.nameOwner(name) != nil }
        return (peer, control)
    }

    private func addMethod(_ control: BusConnection, _ name: String, _ path: String, _ interface: String, _ method: String, _ inSignature: String, _ outSignature: String, _ code: String) async throws {
        _ = try await control.call(try DBusMessage.methodCall(
            destination: name, path: path, interface: "org.freedesktop.DBus.Mock", member: "AddMethod",
            arguments: [.string(interface), .string(method), .string(inSignature), .string(outSignature), .string(code)]))
    }

    @Test("the peer's error is remote and keeps its name; a closed connection is disconnected; a cancelled call is cancelled")
    func remoteDisconnectedCancelled() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        do {
            _ = try await connection.call(try DBusMessage.methodCall(
                destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "NoSuchMethod"))
            Issue.record("NoSuchMethod answered")
        } catch {
            #expect(error.kind == .remote)
            #expect(error.name == .unknownMethod)
        }
        let getID = try DBusMessage.methodCall(
            destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "GetId")
        let cancelled = Task { () -> DBusError? in
            withUnsafeCurrentTask { $0?.cancel() }
            do throws(DBusError) {
                _ = try await connection.call(getID)
                return nil
            } catch {
                return error
            }
        }
        if let error = await cancelled.value {
            // The cancel may lose the race with a fast reply: then there is no error at all.
            #expect(error.kind == .cancelled)
            #expect(error.name == .cancelled)
        }
        connection.close()
        do {
            _ = try await connection.call(try DBusMessage.methodCall(
                destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "GetId"))
            Issue.record("a closed connection answered")
        } catch {
            #expect(error.kind == .disconnected)
        }
    }

    @Test("no reply within the timeout is timedOut")
    func timedOut() async throws {
        let bus = try PrivateBus()
        let (peer, control) = try await mock(bus, name: "io.github.quiesce.Slow", path: "/slow", interface: "io.github.quiesce.Slow")
        defer { peer.stop(); control.close() }
        try await addMethod(control, "io.github.quiesce.Slow", "/slow", "io.github.quiesce.Slow", "Wait", "", "", "import time; time.sleep(3)")
        do {
            _ = try await control.call(try DBusMessage.methodCall(
                destination: "io.github.quiesce.Slow", path: "/slow", interface: "io.github.quiesce.Slow", member: "Wait"), timeout: .milliseconds(200))
            Issue.record("answered within 200 ms")
        } catch {
            #expect(error.kind == .timedOut, "\(error)")
        }
    }

    @Test("a reply of the wrong shape is malformedReply, not InvalidArgs (a session manager answering RegisterClient with a number)")
    func malformedReply() async throws {
        let bus = try PrivateBus()
        let (peer, control) = try await mock(bus, name: "org.gnome.SessionManager", path: "/org/gnome/SessionManager", interface: "org.gnome.SessionManager")
        defer { peer.stop(); control.close() }
        try await addMethod(control, "org.gnome.SessionManager", "/org/gnome/SessionManager", "org.gnome.SessionManager", "RegisterClient", "ss", "u", "ret = dbus.UInt32(7)")
        do {
            _ = try await SessionManagerProxy(connection: control).registerClient(appID: "io.github.quiesce.Agent", startupID: "")
            Issue.record("a number was taken for a client path")
        } catch {
            #expect(error.kind == .malformedReply)
            #expect(error.name != .invalidArgs, "the peer's fault, not ours")
        }
    }
}
