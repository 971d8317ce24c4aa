import Foundation
import QuiesceDBus
import QuiesceTestSupport
import Testing

/// The connection a command-line tool makes one call on (`agentctl status`): a real bus daemon
/// answers, and every way a call fails is told apart as on ``BusConnection``.
@Suite("Blocking bus connection")
struct BlockingConnectionTests {
    private func busCall(_ member: String, _ arguments: [DBusValue] = []) throws(DBusError) -> DBusMessage {
        try DBusMessage.methodCall(
            destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: member,
            arguments: arguments)
    }

    @Test("Hello goes out with the first calls, unanswered until then: those calls are answered, and the name is the bus's")
    func helloWithTheFirstCalls() throws {
        let bus = try PrivateBus()
        let connection = try BlockingBusConnection(address: bus.address)
        defer { connection.close() }
        // Asked before anything has read Hello's answer: the bus took Hello first.
        let answers = try connection.callAll([try busCall("GetId"), try busCall("ListNames")])
        #expect(try answers[0].get().arguments().first?.string?.count == 32)
        let names = try answers[1].get().arguments().first?.strings ?? []
        let unique = connection.uniqueName
        #expect(unique.hasPrefix(":"))
        #expect(names.contains(unique), "the names the bus listed right after Hello include ours")
    }

    @Test("a call is answered on the calling thread; the bus's error keeps its name; a closed connection is disconnected")
    func answersAndErrors() throws {
        let bus = try PrivateBus()
        let connection = try BlockingBusConnection(address: bus.address)
        let unique = connection.uniqueName
        #expect(unique.hasPrefix(":"))

        let owner = try connection.call(try busCall("GetNameOwner", [.string(unique)])).arguments()
        #expect(owner.first?.string == unique, "the bus knows us by the name Hello gave")

        do throws(DBusError) {
            _ = try connection.call(try busCall("GetNameOwner", [.string("org.example.Nobody")]))
            Issue.record("an unowned name had an owner")
        } catch {
            #expect(error.kind == .remote)
            #expect(error.name == .nameHasNoOwner)
        }

        connection.close()
        do throws(DBusError) {
            _ = try connection.call(try busCall("GetId"))
            Issue.record("a closed connection answered")
        } catch {
            #expect(error.kind == .disconnected)
        }
    }

    @Test("a peer that never answers: the call ends at its timeout, as timed out")
    func timeout() throws {
        let bus = try PrivateBus()
        // A blocking connection reads nothing between calls: a call to it is never answered.
        let silent = try BlockingBusConnection(address: bus.address)
        let caller = try BlockingBusConnection(address: bus.address)
        let call = try DBusMessage.methodCall(
            destination: silent.uniqueName, path: "/", interface: "org.example.Silent", member: "Anything")
        do throws(DBusError) {
            _ = try caller.call(call, timeout: .milliseconds(200))
            Issue.record("a silent peer answered")
        } catch {
            #expect(error.kind == .timedOut)
            #expect(error.name == .noReply)
        }
    }

    @Test("calls sent together are answered in order, each with its own error; a subscribed signal is read as it comes, others are dropped")
    func batchedCallsAndSignals() async throws {
        let bus = try PrivateBus()
        let name = "io.github.quiesce.Test.Blocking"
        let watcher = try BlockingBusConnection(address: bus.address)
        let departures = MatchRule.nameOwnerChanged(of: name)
        let answers = try watcher.callAll([try watcher.subscription(departures), try BlockingBusConnection.nameOwnerCall(name)])
        #expect(answers.count == 2)
        #expect((try? answers[0].get()) != nil, "AddMatch answered")
        switch answers[1] {
        case .success: Issue.record("an unowned name had an owner")
        case .failure(let error): #expect(error.name == .nameHasNoOwner)
        }

        let owner = try await BusConnection.open(address: bus.address)
        defer { owner.close() }
        _ = try await owner.requestName("io.github.quiesce.Test.Other")
        _ = try await owner.requestName(name)
        let signal = try watcher.nextSignal()
        let arguments = try signal.arguments()
        #expect(arguments.first?.string == name, "the other name's change was not subscribed to")
        #expect(arguments.last?.string == owner.uniqueName)
    }

    @Test("no session bus: the error says where it looked and what to do")
    func noSessionBus() {
        #expect(throws: DBusError.self) { try BlockingBusConnection.session(environment: [:]) }
        do throws(DBusError) {
            _ = try BlockingBusConnection.session(environment: ["XDG_RUNTIME_DIR": "/nonexistent"])
            Issue.record("found a session bus where there is none")
        } catch {
            #expect(error.message.contains("DBUS_SESSION_BUS_ADDRESS is not set"))
        }
    }
}
