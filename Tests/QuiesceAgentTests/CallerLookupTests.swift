import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Testing

/// Calls from another user are refused, so the agent asks the bus who each caller is. It asks when
/// it first sees the caller — `agentctl` reads the properties before it calls `Quit` — so the
/// method call that follows finds the answer there and does not wait a round trip to the bus.
@Suite("agentd: callers looked up on first sight")
struct CallerLookupTests {
    @Test("a client that reads a property is looked up then, once; its method calls after that ask the bus nothing")
    func lookedUpOnFirstSight() async throws {
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let agent = try await harness.start()
        let log = harness.home.file("monitor.log")
        // The bus's own record of the messages, in its order: a real eavesdropper (dbus-monitor).
        let monitor = try PeerProcess("/usr/bin/dbus-monitor", [
            "--address", bus.address, "--monitor",
            "type='method_call',member='GetConnectionCredentials'", "type='method_call',interface='\(AgentInterface.interface)'",
        ], logFile: log)
        defer { monitor.stop() }
        let client = try await BusConnection.open(address: bus.address, label: "client")
        defer { client.close() }
        let me = try #require(client.uniqueName)
        let lookup = "string \"\(me)\""
        func recorded() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        try await eventually("the monitor listening") {
            _ = try await client.call(DBusMessage.methodCall(
                destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "GetId"))
            return recorded().contains("NameAcquired") || !recorded().isEmpty
        }

        #expect(try await client.agentProperty(.state) == .string("running"))
        try await eventually("the agent asking the bus who \(me) is, after a property read alone") { recorded().contains(lookup) }
        _ = try await client.callAgent(.listSessions, [.vardict([:])])
        _ = try await client.callAgent(.listJobs, [.vardict([:])])
        try await eventually("both calls recorded") { recorded().components(separatedBy: "member=List").count == 3 }
        let text = recorded()
        #expect(text.components(separatedBy: lookup).count == 2, "looked up once:\n\(text)")
        let asked = try #require(text.range(of: lookup))
        let called = try #require(text.range(of: "member=ListSessions"))
        #expect(asked.lowerBound < called.lowerBound, "the lookup came before the first method call:\n\(text)")
        #expect(agent.isRunning)
    }
}
