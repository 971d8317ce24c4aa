import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Testing

@testable import QuiesceAgent

/// The agent exports exactly its interface XML: the methods and properties generated from it, with
/// their signatures, and nothing the XML lacks.
@Suite("agentd: the exported object is the interface XML")
struct ExportedInterfaceTests {
    @Test("the method table is the generated list, in order, with the XML's signatures")
    func methodTable() throws {
        let handlers = Dictionary(uniqueKeysWithValues: AgentInterface.Method.all.map { method -> (AgentInterface.Method, MethodTable.Handler) in
            (method, { _ in [] })
        })
        let exported = try MethodTable.methods(handlers).map { "\($0.name)(\($0.inSignature)) → \($0.outSignature)" }
        #expect(exported == AgentInterface.Method.all.map { "\($0.name)(\($0.inSignature)) → \($0.outSignature)" })
    }

    @Test("a method of the XML without a handler stops the start, naming it")
    func missingHandler() {
        let handlers = Dictionary(uniqueKeysWithValues: AgentInterface.Method.all.filter { $0 != .answer }.map {
            method -> (AgentInterface.Method, MethodTable.Handler) in (method, { _ in [] })
        })
        #expect(throws: AgentStartError.interfaceMismatch("no handler answers the method Answer(s)")) {
            try MethodTable.methods(handlers)
        }
        let message = AgentStartError.interfaceMismatch("no handler answers the method Answer(s)").description
        #expect(message.contains("Answer(s)") && message.contains("dbus/io.github.quiesce.Agent1.xml"), "\(message)")
    }

    @Test("the status board has a value of the XML's type for every property, and no other")
    func statusBoard() {
        let values = StatusBoard.Values().properties
        #expect(Set(values.keys) == Set(AgentInterface.Property.all))
        for property in AgentInterface.Property.all {
            #expect(values[property]?.signature == property.signature, "\(property)")
        }
    }

    @Test("over the bus: every generated method checks its XML signature, each property has its type, Introspect serves the file")
    func overTheBus() async throws {
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let agent = try await harness.start()

        for method in AgentInterface.Method.all {
            // A signature the method does not take: the refusal names the one it does, before any
            // handler runs (and whatever the caller check would say).
            let wrong: [DBusValue] = method.inSignature == "y" ? [] : [.byte(0)]
            let expected = method.inSignature.isEmpty ? "takes no arguments" : "takes (\(method.inSignature))"
            let error = await refusal { () throws(DBusError) in _ = try await harness.call(method, wrong) }
            #expect(error?.name == .invalidArgs && error?.message.contains(expected) == true, "\(method): \(String(describing: error))")
        }
        let unknown = await refusal { () throws(DBusError) in _ = try await harness.call(member: "Nope") }
        #expect(unknown?.name == .unknownMethod, "\(String(describing: unknown))")

        let all = try await harness.control.call(DBusMessage.methodCall(
            destination: AgentInterface.busName, path: AgentInterface.path, interface: "org.freedesktop.DBus.Properties", member: "GetAll",
            arguments: [.string(AgentInterface.interface)])).arguments().first?.vardict ?? [:]
        #expect(Set(all.keys) == Set(AgentInterface.Property.all.map(\.name)))
        for property in AgentInterface.Property.all {
            #expect(all[property.name]?.signature == property.signature, "\(property)")
        }

        let introspection = try await harness.control.call(DBusMessage.methodCall(
            destination: AgentInterface.busName, path: AgentInterface.path, interface: "org.freedesktop.DBus.Introspectable",
            member: "Introspect")).arguments().first?.string
        #expect(introspection == AgentInterface.introspectionXML)

        _ = try await harness.ctl(["quit", "--force"])
        #expect(await agent.exitStatus() == 0, "\(harness.log)")
    }

    /// The error `body` throws, or nil when it succeeds.
    private func refusal(_ body: () async throws(DBusError) -> Void) async -> DBusError? {
        do {
            try await body()
            return nil
        } catch {
            return error
        }
    }
}
