import ArgumentParser
import Glibc
import QuiesceDBus
import QuiesceInterface
import QuiesceSpawn

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
            let reply = try await client.call(.openSession, [.string(String(label.prefix(1000))), .vardict(["bind": .boolean(true)])])
            session = reply.first?.string
        } else {
            print(error: "the agent is not running; running \(program) without a session")
        }

        let status = try await Self.spawnAndWait(command)
        if let session {
            _ = try? await client.call(.closeSession, [.string(session)])
        }
        client.connection.close()
        throw ExitCode(status)
    }

    /// Starts the command with our standard streams, a clean signal mask and none of our other
    /// descriptors; forwards SIGTERM and SIGHUP to it (SIGINT from a terminal reaches it already);
    /// returns its exit status.
    static func spawnAndWait(_ command: [String]) async throws -> Int32 {
        // Handlers first: a SIGTERM before the command exists is kept and passed on once it does.
        for number in [SIGTERM, SIGHUP] {
            signal(number) { number in
                if forwardedTo > 0 { kill(forwardedTo, number) } else { pendingSignal = number }
            }
        }
        let child: Int32
        do {
            child = try Spawn.start(
                command[0], Array(command.dropFirst()), environment: nil,
                stdin: .inherit, stdout: .inherit, stderr: .inherit, searchPath: true)
        } catch {
            print(error: "cannot run \(command[0]): \(String(cString: strerror(error.code)))")
            return error.code == ENOENT ? 127 : 126
        }
        // While the command runs, Ctrl-C is for it: we wait for it to end, then close the session.
        // SIGTERM and SIGHUP are passed on by a handler (kill(2) is async-signal-safe); a dispatch
        // source would start libdispatch's pool, which wakes every second for as long as the
        // command runs.
        signal(SIGINT, SIG_IGN)
        forwardedTo = child
        if pendingSignal != 0 { kill(child, pendingSignal) }
        return await Spawn.waitForExit(child)
    }
}

/// The command `agentctl run` waits for, read by the signal handler that forwards to it (a word,
/// written once), and a signal that came before it existed.
nonisolated(unsafe) private var forwardedTo: pid_t = 0
nonisolated(unsafe) private var pendingSignal: Int32 = 0
