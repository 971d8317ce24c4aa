import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Testing

/// Rule 11 against the real gnome-session 43: the logout inhibitor, the end of the session, a
/// cancelled logout, and a session manager that comes back.
@Suite("agentd and GNOME's session manager")
struct SessionManagerTests {
    private func agent(_ gnome: GnomeSession, _ arguments: [String] = []) async throws -> (AgentHarness, PeerProcess) {
        let harness = try await AgentHarness(busAddress: gnome.environment["DBUS_SESSION_BUS_ADDRESS"]!, owner: gnome)
        let agent = try await harness.start(["--session-manager"] + arguments)
        try await eventually("the agent registered with gnome-session") { harness.log.contains("registered with the session manager") }
        return (harness, agent)
    }

    private func ours(_ gnome: GnomeSession) async throws -> [SessionManagerProxy.Inhibitor] {
        try await gnome.manager.inhibitors().filter { $0.appID == "io.github.quiesce.Agent" }
    }

    @Test("no inhibitor while idle; work → a logout inhibitor naming it in the prompt's words; the work ends → gone")
    func inhibitor() async throws {
        let gnome = try await GnomeSession()
        let (harness, agent) = try await agent(gnome)
        #expect(try await gnome.manager.isInhibited(.logout) == false)
        let id = try #require(try await harness.call(.openSession, [.string("exporting demo.mp4"), .vardict(["bind": .boolean(false)])]).first?.string)
        try await eventually("the inhibitor") { try await gnome.manager.isInhibited(.logout) }
        let held = try await ours(gnome)
        #expect(held.map(\.reason) == ["1 operation still running: exporting demo.mp4"])
        #expect(held.map(\.flags) == [1])
        _ = try await harness.call(.openSession, [.string("recording lab-3"), .vardict(["bind": .boolean(false)])])
        try await eventually("the reason following the work (re-taken within a second)") {
            try await ours(gnome).map(\.reason) == ["2 operations still running: exporting demo.mp4, recording lab-3"]
        }
        _ = try await harness.call(.closeSession, [.string(id)])
        let sessions = try await harness.call(.listSessions, [.vardict([:])]).first?.array ?? []
        for session in sessions { _ = try await harness.call(.closeSession, [session.fields![0]]) }
        try await eventually("the inhibitor released when idle") { try await gnome.manager.isInhibited(.logout) == false }
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    @Test("logout: gnome-session waits while the agent drains; the last work ends → EndSessionResponse(true), the logout completes, exit 0")
    func logoutWaitsForWork() async throws {
        let gnome = try await GnomeSession()
        let (harness, agent) = try await agent(gnome, ["--quit-timeout", "60"])
        let id = try #require(try await harness.call(.openSession, [.string("exporting demo.mp4"), .vardict(["bind": .boolean(false)])]).first?.string)
        try await eventually("the inhibitor") { try await gnome.manager.isInhibited(.logout) }
        try await gnome.manager.logout(mode: 2)
        try await eventually("the agent draining for the end of the session") { try await harness.property(.state) == .string("draining") }
        #expect(harness.log.contains("the session manager ends the session"), "\(harness.log)")
        #expect(try await gnome.control.nameOwner(SessionManagerProxy.busName) != nil, "gnome-session waits for the agent")
        let late = try? await harness.call(.openSession, [.string("late"), .vardict([:])])
        #expect(late == nil, "admission is closed while the session ends")

        _ = try await harness.call(.closeSession, [.string(id)])
        try await eventually("gnome-session gone: the logout completed") { try await gnome.control.nameOwner(SessionManagerProxy.busName) == nil }
        #expect(await agent.exitStatus() == 0, "\(harness.log)")
        #expect(harness.log.contains("answering the session manager: the session may end (work ended)"), "\(harness.log)")
        #expect(gnome.log.contains("got EndSessionResponse is-ok:1"), "gnome-session heard the answer")
    }

    @Test("logout with work that never ends and a prompt nobody answers: forced at the ceiling, exit 3; the work is there at the next start")
    func logoutForcedAtTheCeiling() async throws {
        let gnome = try await GnomeSession()
        let notifications = try spawnRigPeer("notifications", environment: gnome.environment)
        defer { notifications.stop() }
        try await eventually("the notification server") { try await gnome.control.nameOwner("org.freedesktop.Notifications") != nil }
        let (harness, agent) = try await agent(gnome, ["--quit-timeout", "0.5", "--answer-timeout", "1"])
        _ = try await harness.call(.openSession, [.string("recording lab-3"), .vardict(["bind": .boolean(false)])])
        try await eventually("the inhibitor") { try await gnome.manager.isInhibited(.logout) }
        try await gnome.manager.logout(mode: 2)
        try await eventually("the logout completed", limit: .seconds(30)) { try await gnome.control.nameOwner(SessionManagerProxy.busName) == nil }
        #expect(await agent.exitStatus() == 3, "\(harness.log)")
        #expect(harness.log.contains("no answer by the ceiling"), "\(harness.log)")
        #expect(harness.log.contains("answering the session manager: the session may end (agent stopping)"), "\(harness.log)")

        let again = try await harness.start(["--no-session-manager"])
        #expect(try await harness.property(.activeSessions) == .uint32(1), "the unbound session is still there")
        #expect(try await harness.ctl(["quit", "--force"]).status == 3)
        #expect(await again.exitStatus() == 3)
    }

    @Test("the logout cancelled in the dialog: the agent runs on, admission open")
    func cancelledLogout() async throws {
        let gnome = try await GnomeSession()
        let (harness, agent) = try await agent(gnome)
        _ = try await harness.call(.openSession, [.string("exporting demo.mp4"), .vardict(["bind": .boolean(false)])])
        try await eventually("the inhibitor") { try await gnome.manager.isInhibited(.logout) }
        try await gnome.rig("clear-calls")
        try await gnome.manager.logout(mode: 0)
        try await eventually("the dialog opened with our inhibitor") { try await gnome.rig("open-calls").output.contains("Inhibitor") }
        #expect(harness.log.contains("asks whether the session may end"), "\(harness.log)")
        try await gnome.rig("emit", ["Canceled"])
        try await eventually("the cancel reaching the agent") { harness.log.contains("cancelled the end of the session") }
        #expect(try await harness.property(.state) == .string("running"))
        let more = try await harness.call(.openSession, [.string("after the cancel"), .vardict(["bind": .boolean(false)])])
        #expect(more.first?.string?.isEmpty == false, "admission open")
        #expect(try await gnome.manager.isInhibited(.logout), "the inhibitor still names the work")
        #expect(try await harness.ctl(["quit", "--force"]).status == 3)
        #expect(await agent.exitStatus() == 3)
    }

    @Test("gnome-session crashes and comes back: the agent registers again and takes its inhibitor again")
    func sessionManagerReturns() async throws {
        let gnome = try await GnomeSession()
        let (harness, agent) = try await agent(gnome)
        _ = try await harness.call(.openSession, [.string("exporting demo.mp4"), .vardict(["bind": .boolean(false)])])
        try await eventually("the inhibitor") { try await gnome.manager.isInhibited(.logout) }
        #expect(try await gnome.rig("kill-session").status == 0)
        try await eventually("the agent noticing") { harness.log.contains("the session manager left the bus") }
        #expect(try await gnome.rig("start-session").status == 0)
        try await eventually("registered again") {
            harness.log.components(separatedBy: "registered with the session manager").count == 3
        }
        try await eventually("the inhibitor on the new session manager") { try await gnome.manager.isInhibited(.logout) }
        #expect(try await ours(gnome).map(\.reason) == ["1 operation still running: exporting demo.mp4"])
        #expect(try await harness.property(.state) == .string("running"))
        #expect(try await harness.ctl(["quit", "--force"]).status == 3)
        #expect(await agent.exitStatus() == 3)
    }
}
