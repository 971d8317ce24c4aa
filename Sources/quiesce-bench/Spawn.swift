import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceSpawn

/// Starts a program with a clean signal mask and none of our descriptors; its standard streams
/// are /dev/null unless given. Returns its pid.
func spawn(_ executable: String, _ arguments: [String], environment: [String: String], output: ChildStream = .devNull, error: ChildStream = .devNull) throws -> Int32 {
    do {
        return try Spawn.start(executable, arguments, environment: environment, stdout: output, stderr: error)
    } catch {
        throw BenchmarkError(message: error.description)
    }
}

extension BusConnection {
    /// Calls the agent's `Quit`.
    func quitAgent(force: Bool = false) async throws {
        _ = try await call(try DBusMessage.methodCall(
            destination: AgentInterface.busName, path: AgentInterface.path, interface: AgentInterface.interface, member: AgentInterface.Method.quit.name,
            arguments: [.vardict(force ? ["force": .boolean(true)] : [:])]))
    }
}
