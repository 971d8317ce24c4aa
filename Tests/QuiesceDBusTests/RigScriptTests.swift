import Foundation
import QuiesceDBus
import QuiesceTestSupport
import Testing

/// `scripts/rig.sh`, which people, the benchmarks and the end-to-end tests use to get every peer at
/// once: it must start each of them, working, and stop all of them by pid.
@Suite("The rig script")
struct RigScriptTests {
    @Test("start brings up every peer, working; stop leaves none running")
    func startAndStop() async throws {
        await LogindTurn.shared.take()
        defer { LogindTurn.shared.giveSoon() }
        let directory = TemporaryDirectory("quiesce-rig")
        let started = try await run(rigScript, ["start", directory.path])
        #expect(started.status == 0, "\(started.error)")
        let pids = ((try? String(contentsOfFile: directory.file("pids"), encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { Int32($0.split(separator: " ")[0]) }
        // Whatever the checks find, the rig is stopped before the test ends.
        var problem: (any Error)?
        do {
            try await checkPeers(parseEnvironment(try String(contentsOfFile: directory.file("env"), encoding: .utf8)))
        } catch {
            problem = error
        }
        let stopped = try await run(rigScript, ["stop", directory.path])
        #expect(pids.count == 8, "three buses, two mocks, logind, Xvfb, dunst")
        if let problem { Issue.record("a peer of the rig is not working: \(problem)") }
        #expect(stopped.status == 0, "\(stopped.error)")
        for pid in pids {
            #expect(!isRunning(pid), "pid \(pid) still runs after stop")
        }
        #expect(!exists(directory.file("pids")))
    }

    private func checkPeers(_ environment: [String: String]) async throws {
        let system = try await BusConnection.open(address: try #require(environment["DBUS_SYSTEM_BUS_ADDRESS"]))
        defer { system.close() }
        let logind = LogindManager(connection: system)
        #expect(try await logind.inhibitDelayMax() > .zero, "the real logind answers")
        let unit = try await system.call(try DBusMessage.methodCall(
            destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1/unit/poweroff_2etarget",
            interface: "org.freedesktop.DBus.Properties", member: "Get",
            arguments: [.string("org.freedesktop.systemd1.Unit"), .string("LoadState")]))
        #expect(try unit.arguments().first?.unwrapped.string == "loaded", "the systemd mock has poweroff.target")

        for address in [environment["DBUS_SESSION_BUS_ADDRESS"], environment["QUIESCE_RIG_DUNST_BUS_ADDRESS"]] {
            let session = try await BusConnection.open(address: try #require(address))
            defer { session.close() }
            let capabilities = try await session.call(try DBusMessage.methodCall(
                destination: "org.freedesktop.Notifications", path: "/org/freedesktop/Notifications",
                interface: "org.freedesktop.Notifications", member: "GetCapabilities"))
            #expect(try capabilities.arguments().first?.array?.contains(.string("actions")) == true)
        }
    }

    private func parseEnvironment(_ text: String) -> [String: String] {
        var environment: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            environment[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return environment
    }

    private func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // The state follows the command name in parentheses; a zombie (Z) no longer runs.
        guard let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(close, offsetBy: 2)] != "Z"
    }
}
