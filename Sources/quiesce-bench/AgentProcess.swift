import CSpawn
import Dispatch
import Foundation
import QuiesceDBus

/// A real `agentd` (the release build beside this benchmark) on the rig's session bus, with a home
/// of its own, spawned with a clean signal mask and waited for by pid.
final class AgentProcess: @unchecked Sendable {
    // Safe: set once in init.
    let pid: pid_t
    let home: String

    static let busName = "io.github.quiesce.Agent1"

    /// Starts agentd and returns once it owns its name.
    /// - Parameter systemBus: the rig's system bus (with logind), or nil for none.
    init(sessionBus: String, systemBus: String?, control: BusConnection, arguments: [String] = []) async throws {
        home = try scratchDirectory("agent-\(UUID().uuidString.prefix(8))")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("QUIESCE_") && !$0.key.hasPrefix("XDG_") }
        environment["HOME"] = home
        environment["DBUS_SESSION_BUS_ADDRESS"] = sessionBus
        environment["DBUS_SYSTEM_BUS_ADDRESS"] = systemBus ?? "unix:path=\(home)/no-system-bus"
        environment["QUIESCE_LOG_LEVEL"] = "warning"
        let executable = Self.sibling("agentd")
        var pid: pid_t = 0
        let log = open(home + "/agentd.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        defer { close(log) }
        let error = withCStrings([executable] + arguments) { argv in
            withCStrings(environment.map { "\($0.key)=\($0.value)" }) { envp in
                quiesce_spawn(&pid, executable, argv, envp, Int32(QUIESCE_SPAWN_DEVNULL), log, log, 0)
            }
        }
        guard error == 0 else { throw BenchmarkError(message: "cannot start \(executable): \(String(cString: strerror(error)))") }
        self.pid = pid
        for _ in 0..<1000 {
            if (try? await control.nameOwner(Self.busName)) ?? nil != nil { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        kill(pid, SIGKILL)
        throw BenchmarkError(message: "agentd did not take its name within 5 s; its log is in \(home)/agentd.log")
    }

    /// Waits for the agent to exit, off the Swift pool; returns its exit status.
    func exit() async -> Int32 {
        await withCheckedContinuation { continuation in
            DispatchQueue(label: "quiesce-bench.agent-exit").async {
                var status: Int32 = 0
                while waitpid(self.pid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: (status >> 8) & 0xff)
            }
        }
    }

    /// A product built beside this benchmark (agentd, agentctl).
    static func sibling(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(name).path
    }
}

/// Runs `body` with `strings` as a NULL-terminated C array.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
