import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Testing

/// A shutdown called off while the agent's work still holds it up. Real logind never sends
/// `PrepareForShutdown(false)` while a delay lock is still held (it waits for the lock), so the
/// announcements here come from python-dbusmock's logind template, which sends them when told.
@Suite("agentd and a shutdown called off during its hold")
struct LogindCancelTests {
    @Test("PrepareForShutdown(false) during a busy hold is read at once: running again, admission open, the lock still held")
    func cancelledDuringHold() async throws {
        let system = try PrivateBus(type: "system")
        var environment = ProcessInfo.processInfo.environment
        environment["DBUS_SYSTEM_BUS_ADDRESS"] = system.address
        let logind = try PeerProcess("/usr/bin/python3", ["-m", "dbusmock", "--system", "--template", "logind"], environment: environment)
        defer { logind.stop() }
        let control = try await BusConnection.open(address: system.address)
        defer { control.close() }
        try await eventually("the logind template on the system bus") { try await control.nameOwner("org.freedesktop.login1") != nil }
        func mock(_ member: String, _ arguments: [DBusValue]) async throws -> [DBusValue] {
            try await control.call(try DBusMessage.methodCall(
                destination: "org.freedesktop.login1", path: "/org/freedesktop/login1", interface: "org.freedesktop.DBus.Mock",
                member: member, arguments: arguments)).arguments()
        }
        // A long delay: before the fix, the cancel was read only when this window ran out.
        _ = try await mock("AddProperty", [.string("org.freedesktop.login1.Manager"), .string("InhibitDelayMaxUSec"), .variant(.uint64(60_000_000))])
        func quiesceLocks() async throws -> Int {
            let reply = try await control.call(try DBusMessage.methodCall(
                destination: "org.freedesktop.login1", path: "/org/freedesktop/login1", interface: "org.freedesktop.login1.Manager",
                member: "ListInhibitors"))
            return (try reply.arguments().first?.array ?? []).filter { $0.fields?[1].string == "Quiesce" }.count
        }

        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, systemBusAddress: system.address, owner: session)
        let agent = try await harness.start()
        try await eventually("the agent's delay lock") { try await quiesceLocks() == 1 }
        _ = try await harness.call(.openSession, [.string("recording lab-3"), .vardict(["bind": .boolean(false)])])

        func announce(_ active: Bool) async throws {
            _ = try await mock("EmitSignal", [
                .string("org.freedesktop.login1.Manager"), .string("PrepareForShutdown"), .string("b"), .array(element: "v", [.variant(.boolean(active))]),
            ])
        }
        try await announce(true)
        try await eventually("draining for the shutdown") { try await harness.property(.state) == .string("draining") }
        try await announce(false)
        try await eventually("running again as soon as the shutdown is called off") { try await harness.property(.state) == .string("running") }
        let opened = try await harness.call(.openSession, [.string("after the cancel"), .vardict(["bind": .boolean(false)])])
        #expect(opened.first?.string?.isEmpty == false, "admission open again")
        #expect(try await quiesceLocks() == 1, "the lock is still held: nothing was let go for a shutdown that was called off")
        #expect(!harness.log.contains("released the delay lock"), "\(harness.log)")
        #expect(try await harness.ctl(["quit", "--force"]).status == 3)
        #expect(await agent.exitStatus() == 3)
    }
}
