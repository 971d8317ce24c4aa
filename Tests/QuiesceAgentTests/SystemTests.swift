import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Testing

/// The agent against the real systemd-logind (on the rig's private system bus), and on a real
/// terminal (tmux).
@Suite("agentd with logind and on a terminal")
struct SystemTests {
    /// The real logind on the rig's system bus, and the agent on a session bus, holding its lock.
    private func agentWithLogind() async throws -> (LogindRig, AgentHarness, PeerProcess, LogindManager) {
        let rig = try await LogindRig()
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, systemBusAddress: rig.bus.address, owner: session)
        let agent = try await harness.start()
        let logind = LogindManager(connection: rig.connection)
        try await eventually("the agent's delay lock in logind") {
            try await logind.listInhibitors().contains { $0.who == "Quiesce" }
        }
        return (rig, harness, agent, logind)
    }

    @Test("logind PowerOff: the idle agent releases its lock, logind goes on; PrepareForShutdown(false): running again with the lock")
    func powerOffCycle() async throws {
        let (rig, harness, agent, logind) = try await agentWithLogind()
        func ours() async throws -> Int { try await logind.listInhibitors().filter { $0.who == "Quiesce" }.count }

        try await logind.powerOff()
        try await eventually("logind going on to poweroff.target once the lock is released") {
            try await rig.managerCalls().contains { $0.hasPrefix("StartUnit poweroff.target") }
        }
        // The agent logs the release after closing the lock's fd: logind may go on before the
        // line has reached the harness.
        try await eventually("the agent's log saying it released the delay lock") {
            harness.log.contains("released the delay lock")
        }
        try await eventually("running again, holding the lock") {
            let running = try await harness.property(.state) == .string("running")
            let locks = try await ours()
            return running && locks == 1
        }
        let open = try await harness.call(.openSession, [.string("after"), .vardict(["bind": .boolean(false)])])
        #expect(open.first?.string != nil, "admission is open again")
        #expect(try await harness.ctl(["quit", "--force"]).status == 3)
        #expect(await agent.exitStatus() == 3)
        #expect(try await ours() == 0, "the lock goes with the agent")
    }

    @Test("logind Suspend: the agent pauses copying, releases its lock, and after PrepareForSleep(false) runs again with the lock")
    func suspendCycle() async throws {
        let (rig, harness, agent, logind) = try await agentWithLogind()
        func ours() async throws -> Int { try await logind.listInhibitors().filter { $0.who == "Quiesce" }.count }
        _ = try await harness.call(.openSession, [.string("kept across sleep"), .vardict(["bind": .boolean(false)])])

        try await logind.suspend()
        try await eventually("logind going on to suspend.target once the lock is released") {
            try await rig.managerCalls().contains { $0.hasPrefix("StartUnit suspend.target") }
        }
        #expect(harness.log.contains("prepares to sleep"), "\(harness.log)")
        #expect(harness.log.contains("released the delay lock (work ended)"), "released at once, not at logind's 5 s limit: \(harness.log)")
        try await eventually("running again, holding the lock") {
            let running = try await harness.property(.state) == .string("running")
            let locks = try await ours()
            return running && locks == 1
        }
        #expect(try await harness.property(.activeSessions) == .uint32(1), "a session does not hold up sleep, and stays open across it")
        #expect(try await harness.ctl(["quit", "--force"]).status == 3)
        #expect(await agent.exitStatus() == 3)
    }

    @Test("the prompt in dunst, a real notification server: Force quit from its menu → exit 3, the notification closed")
    func forceInDunst() async throws {
        let dunst = try await DunstServer()
        let harness = try await AgentHarness(busAddress: dunst.bus.address, owner: dunst)
        let agent = try await harness.start(["--quit-timeout", "0.3"])
        _ = try await harness.call(.openSession, [.string("encoding"), .vardict(["bind": .boolean(false)])])
        #expect(try await harness.ctl(["quit", "--no-wait"]).status == 0)
        try await eventually("the prompt shown by dunst", limit: .seconds(20)) { try await dunst.displayed() == 1 }
        try await dunst.invoke("force")
        #expect(await agent.exitStatus() == 3, "\(harness.log)")
        try await eventually("the notification closed by the agent") { try await dunst.displayed() == 0 }
        #expect(harness.log.contains("notification answered force"), "\(harness.log)")
    }

    @Test("agentctl quit on a terminal shows progress, and the question with what still runs under it; f forces")
    func terminalForce() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else { throw PeerMissing(what: "/usr/bin/tmux (Debian package tmux)") }
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        let agent = try await harness.start(["--quit-timeout", "1"])
        _ = try await harness.call(.openSession, [.string("render job"), .vardict(["bind": .boolean(false)])])
        _ = try await harness.call(.openSession, [.string("exporting demo.mp4"), .vardict(["bind": .boolean(false)])])
        let socket = harness.home.file("tmux.sock")
        let result = harness.home.file("status")
        let tmux = ["-S", socket, "-f", "/dev/null"]
        var command = ["new-session", "-d", "-x", "160", "-y", "10"]
        for key in ["DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"] {
            command += ["-e", "\(key)=\(harness.environment[key] ?? "")"]
        }
        command.append("'\(builtProduct("agentctl"))' quit; echo $? > '\(result)'; sleep 30")
        let started = try await runDetached("/usr/bin/tmux", tmux + command)
        #expect(started.status == 0, "\(started.output)")
        func screen() async throws -> String { try await runDetached("/usr/bin/tmux", tmux + ["capture-pane", "-p"]).output }

        try await eventually("progress on the terminal") { try await screen().contains("render job") }
        try await eventually("the question on the terminal", limit: .seconds(20)) { try await screen().contains("[f]orce / [w]ait") }
        let lines = try await screen().split(separator: "\n").map(String.init)
        let question = try #require(lines.firstIndex { $0.contains("2 operations still running. Force quit anyway? [f]orce / [w]ait") }, "\(lines)")
        #expect(Array(lines.dropFirst(question + 1).prefix(2)) == ["  render job", "  exporting demo.mp4"], "what runs, under the question: \(lines)")
        _ = try await runDetached("/usr/bin/tmux", tmux + ["send-keys", "f"])
        #expect(await agent.exitStatus() == 3, "\(harness.log)")
        try await eventually("agentctl's exit status") { exists(result) }
        #expect(try String(contentsOfFile: result, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "3")
        #expect(harness.log.contains("terminal answered force"), "the answer came from the terminal: \(harness.log)")
        // (Were the test to stop earlier, the session ends by itself after its sleep.)
        _ = try await runDetached("/usr/bin/tmux", tmux + ["kill-server"])
    }
}
