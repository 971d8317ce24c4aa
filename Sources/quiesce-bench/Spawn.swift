import CSpawn
import Dispatch
import Foundation
import QuiesceDBus

/// Starts a program with `posix_spawn` (a clean signal mask, none of our descriptors); standard
/// streams are /dev/null unless given. Returns its pid.
func spawn(_ executable: String, _ arguments: [String], environment: [String], output: Int32? = nil, error: Int32? = nil) throws -> pid_t {
    var pid: pid_t = 0
    let devnull = Int32(QUIESCE_SPAWN_DEVNULL)
    let result = withCStrings([executable] + arguments) { argv in
        withCStrings(environment) { envp in
            quiesce_spawn(&pid, executable, argv, envp, devnull, output ?? devnull, error ?? devnull, 0)
        }
    }
    guard result == 0 else { throw BenchmarkError(message: "cannot start \(executable): \(String(cString: strerror(result)))") }
    return pid
}

/// Waits for a child off the Swift pool; returns its exit status.
func exitStatus(of pid: pid_t) async -> Int32 {
    await withCheckedContinuation { continuation in
        DispatchQueue(label: "quiesce-bench.wait").async {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            continuation.resume(returning: (status >> 8) & 0xff)
        }
    }
}

/// Runs `body` with `strings` as a NULL-terminated C array.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}

extension BusConnection {
    /// Calls the agent's `Quit`.
    func quitAgent(force: Bool = false) async throws {
        _ = try await call(try DBusMessage.methodCall(
            destination: AgentProcess.busName, path: "/io/github/quiesce/Agent1", interface: AgentProcess.busName, member: "Quit",
            arguments: [.vardict(force ? ["force": .boolean(true)] : [:])]))
    }
}
