import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Testing

/// The project's own unit file under a real systemd user manager: what `systemctl --user` does
/// with the agent at login, reload and logout.
@Suite("agentd under systemd --user")
struct UserManagerTests {
    /// A manager with `dbus/quiesce.service.in` installed (pointing at the built agentd), and
    /// agent.yaml written.
    private func managerWithUnit(configuration: String = "") async throws -> UserManager {
        let manager = try await UserManager()
        let template = try String(contentsOfFile: packageRoot + "/dbus/quiesce.service.in", encoding: .utf8)
        let bin = URL(fileURLWithPath: builtProduct("agentd")).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: manager.unitDirectory, withIntermediateDirectories: true)
        try template.replacingOccurrences(of: "@BINDIR@", with: bin).write(
            toFile: manager.unitDirectory + "/quiesce.service", atomically: true, encoding: .utf8)
        let config = (manager.environment["XDG_CONFIG_HOME"] ?? "") + "/quiesce"
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        if !configuration.isEmpty { try configuration.write(toFile: config + "/agent.yaml", atomically: true, encoding: .utf8) }
        #expect(try await manager.systemctl(["daemon-reload"]).status == 0)
        // Wanted by a unit that stays active, so its Result and exit status outlive a stop.
        #expect(try await manager.systemctl(["add-wants", "default.target", "quiesce.service"]).status == 0)
        return manager
    }

    private func agentctl(_ manager: UserManager, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runDetached(builtProduct("agentctl"), arguments, environment: manager.environment)
    }

    @Test("the unit: verify prints nothing; start is ready on the bus; status tells the state; reload re-reads; an idle stop is clean")
    func lifecycle() async throws {
        let manager = try await managerWithUnit()
        // verify also looks up the unit's Documentation= man page: installed, as make install does.
        let man = manager.directory.file("man/man1")
        try FileManager.default.createDirectory(atPath: man, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: packageRoot + "/docs/agentctl.1", toPath: man + "/agentctl.1")
        let verify = try await manager.run(["env", "MANPATH=\(manager.directory.file("man")):", "systemd-analyze", "--user", "verify", manager.unitDirectory + "/quiesce.service"])
        #expect(verify.status == 0 && verify.output.isEmpty, "systemd-analyze --user verify: \(verify.output)")

        let start = try await manager.systemctl(["start", "quiesce.service"])
        #expect(start.status == 0, "\(start.output)")
        let started = try await manager.show("quiesce.service", ["ActiveState", "SubState", "StatusText", "MainPID"])
        #expect(started["ActiveState"] == "active", "\(started)")
        // Type=dbus: start returned only once the name was taken, so agentctl finds it at once.
        let status = try await agentctl(manager, ["status"])
        #expect(status.status == 0 && status.output.contains("agent: running"), "\(status.output)")
        try await eventually("STATUS= in systemctl") {
            try await manager.show("quiesce.service", ["StatusText"])["StatusText"] == "idle"
        }
        let shown = try await manager.systemctl(["status", "quiesce.service", "--no-pager"])
        #expect(shown.output.contains("Status: \"idle\""), "\(shown.output)")

        let config = (manager.environment["XDG_CONFIG_HOME"] ?? "") + "/quiesce/agent.yaml"
        try "shutdown:\n  quit_timeout: 45\n".write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try await manager.systemctl(["reload", "quiesce.service"]).status == 0)
        try await eventually("the reload in the agent's log") {
            try await manager.run(["journalctl", "--user-unit", "quiesce.service", "--no-pager", "-o", "cat"]).output.contains("windows now: quit 45 s")
        }

        _ = try await agentctl(manager, ["session", "open", "recording"])
        try await eventually("the status line following the work") {
            try await manager.show("quiesce.service", ["StatusText"])["StatusText"] == "1 session open"
        }
        let list = try await agentctl(manager, ["session", "list"])
        let id = try #require(list.output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }.first { $0.hasPrefix("s") })
        #expect(try await agentctl(manager, ["session", "close", id]).status == 0)

        let stop = try await manager.systemctl(["stop", "quiesce.service"])
        #expect(stop.status == 0)
        let stopped = try await manager.show("quiesce.service", ["ActiveState", "Result", "ExecMainStatus"])
        #expect(stopped["Result"] == "success" && stopped["ExecMainStatus"] == "0", "\(stopped)")
    }

    @Test("stop with a session open and a notification server that never answers: the agent decides itself, exit 3, Result=success, never a timeout")
    func stopWithUnansweredWork() async throws {
        let manager = try await managerWithUnit(configuration: "shutdown:\n  sigterm_timeout: 0.5\n  answer_timeout: 1\n")
        // A notification server that offers actions and never answers: the user is away.
        let notifications = try spawnRigPeer("notifications", environment: manager.environment)
        defer { notifications.stop() }
        let control = try await BusConnection.session(environment: manager.environment)
        defer { control.close() }
        try await eventually("the notification server on the user bus") {
            try await control.nameOwner("org.freedesktop.Notifications") != nil
        }
        #expect(try await manager.systemctl(["start", "quiesce.service"]).status == 0)
        #expect(try await agentctl(manager, ["session", "open", "exporting demo.mp4"]).status == 0)

        let stop = try await manager.systemctl(["stop", "quiesce.service"])
        #expect(stop.status == 0)
        let stopped = try await manager.show("quiesce.service", ["Result", "ExecMainStatus", "ActiveState"])
        #expect(stopped["ExecMainStatus"] == "3", "forced by its own decision: \(stopped)")
        #expect(stopped["Result"] == "success", "exit 3 is success for the unit, never timeout: \(stopped)")
        let journal = try await manager.run(["journalctl", "--user-unit", "quiesce.service", "--no-pager", "-o", "cat"]).output
        #expect(journal.contains("no answer by the ceiling"), "\(journal)")
        #expect(!journal.contains("timed out"), "\(journal)")
        let notified = try await control.call(try DBusMessage.methodCall(
            destination: "org.freedesktop.Notifications", path: "/org/freedesktop/Notifications",
            interface: "org.freedesktop.DBus.Mock", member: "GetCalls"))
        #expect(try notified.arguments().first?.array?.contains { $0.fields?[1].string == "Notify" } == true, "the prompt was shown first")
    }
}
