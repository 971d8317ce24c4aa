import ArgumentParser
import CSpawn
import Dispatch
import Foundation
import QuiesceDBus

/// `agentctl run -- CMD…`: holds a bound session while a command runs, like `systemd-inhibit`.
/// The session is bound to this process's bus connection, so it closes even if agentctl is killed.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command while holding a session, so the agent does not quit under it.",
        discussion: "Exits with the command's status (128 + N when it was killed by signal N).")

    @Option(help: ArgumentHelp("The session's label (default: the command line).", valueName: "label"))
    var label: String?

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments, after --.")
    var command: [String] = []

    func run() async throws {
        let command = command.first == "--" ? Array(command.dropFirst()) : command
        guard let program = command.first else { throw ValidationError("give a command to run after --") }
        let client = try await AgentClient.connect()
        var session: String?
        if await client.agentOwner() != nil {
            let label = label ?? command.joined(separator: " ")
            let reply = try await client.call("OpenSession", [.string(String(label.prefix(1000))), .vardict(["bind": .boolean(true)])])
            session = reply.first?.string
        } else {
            print(error: "the agent is not running; running \(program) without a session")
        }

        let status = try await Self.spawnAndWait(command)
        if let session {
            _ = try? await client.call("CloseSession", [.string(session)])
        }
        client.connection.close()
        throw ExitCode(status)
    }

    /// Starts the command with our standard streams, a clean signal mask and none of our other
    /// descriptors; forwards SIGTERM and SIGHUP to it (SIGINT from a terminal reaches it already);
    /// returns its exit status.
    static func spawnAndWait(_ command: [String]) async throws -> Int32 {
        var arguments = command.map { strdup($0) }
        arguments.append(nil)
        defer { arguments.forEach { free($0) } }
        var environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") }
        environment.append(nil)
        defer { environment.forEach { free($0) } }
        var pid: pid_t = 0
        let inherit = Int32(QUIESCE_SPAWN_INHERIT)
        let error = quiesce_spawn(&pid, command[0], &arguments, &environment, inherit, inherit, inherit, 1)
        guard error == 0 else {
            print(error: "cannot run \(command[0]): \(String(cString: strerror(error)))")
            return error == ENOENT ? 127 : 126
        }
        let child = pid
        // While the command runs, Ctrl-C is for it: we wait for it to end, then close the session.
        signal(SIGINT, SIG_IGN)
        let forwarded = [SIGTERM, SIGHUP].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { kill(child, number) }
            source.resume()
            return source
        }
        defer { forwarded.forEach { $0.cancel() } }
        return await withCheckedContinuation { continuation in
            DispatchQueue(label: "agentctl.run.wait").async {
                var status: Int32 = 0
                while waitpid(child, &status, 0) < 0 && errno == EINTR {}
                let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                continuation.resume(returning: code)
            }
        }
    }
}
