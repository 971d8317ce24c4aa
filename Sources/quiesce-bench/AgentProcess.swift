import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceSpawn

/// A real `agentd` (the release build beside this benchmark) on the rig's session bus, with a home
/// of its own, spawned with a clean signal mask and waited for by pid.
final class AgentProcess: @unchecked Sendable {
    // Safe: set once in init.
    let pid: pid_t
    let home: String
    /// From the spawn to the bus announcing the agent as the owner of its name.
    let startup: Duration

    /// Starts agentd and returns once it owns its name.
    /// - Parameter systemBus: the rig's system bus (with logind), or nil for none.
    /// - Parameter home: the agent's home (its database under `.local/state/quiesce`); a new one by default.
    init(sessionBus: String, systemBus: String?, control: BusConnection, arguments: [String] = [], home given: String? = nil) async throws {
        home = try given ?? scratchDirectory("agent-\(UUID().uuidString.prefix(8))")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("QUIESCE_") && !$0.key.hasPrefix("XDG_") }
        environment["HOME"] = home
        environment["DBUS_SESSION_BUS_ADDRESS"] = sessionBus
        environment["DBUS_SYSTEM_BUS_ADDRESS"] = systemBus ?? "unix:path=\(home)/no-system-bus"
        environment["QUIESCE_LOG_LEVEL"] = "warning"
        let executable = Self.sibling("agentd")
        let log = open(home + "/agentd.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        defer { close(log) }
        // Subscribed before the spawn, so the announcement cannot be missed.
        let owners = try await control.nameOwnerChanges(of: AgentInterface.busName)
        let clock = ContinuousClock()
        let start = clock.now
        let pid = try spawn(executable, arguments, environment: environment, output: .descriptor(log), error: .descriptor(log))
        self.pid = pid
        let home = self.home
        startup = try await withThrowingTaskGroup(of: Duration.self) { group in
            group.addTask {
                for await change in owners where !change.newOwner.isEmpty {
                    return start.duration(to: clock.now)
                }
                throw CancellationError()
            }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                kill(pid, SIGKILL)
                throw BenchmarkError(message: "agentd did not take its name within 30 s; its log is in \(home)/agentd.log")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Returns once the agent has finished starting (its `State` is `running`) and the start's
    /// tail (the first checkpoint, the background check of an empty file) has had 50 ms: an idle
    /// agent, not one still starting, whose quit would wait for its start (rule 7).
    func waitUntilIdle(control: BusConnection) async throws {
        let get = try DBusMessage.methodCall(
            destination: AgentInterface.busName, path: AgentInterface.path, interface: "org.freedesktop.DBus.Properties", member: "Get",
            arguments: [.string(AgentInterface.interface), .string(AgentInterface.Property.state.name)])
        for _ in 0..<5000 {
            if try await control.call(get).arguments().first?.unwrapped.string == "running" {
                try await Task.sleep(for: .milliseconds(50))
                return
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw BenchmarkError(message: "agentd did not finish starting within 10 s; its log is in \(home)/agentd.log")
    }

    /// Waits for the agent to exit, off the Swift pool; returns its exit status.
    func exit() async -> Int32 {
        await Spawn.waitForExit(pid)
    }

    /// A product built beside this benchmark (agentd, agentctl).
    static func sibling(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(name).path
    }
}
