import ArgumentParser
import Glibc
import QuiesceCommandLine
import QuiesceInterface
import QuiesceThreads

/// The process's entry: the plain forms of the commands run most on the fast path, on the main
/// thread alone; everything else through ArgumentParser, its tasks on threads of our own (no
/// libdispatch pool to start).
@main
enum AgentCtlMain {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let status = FastPath.run(arguments) {
            // Everything is said and the connection closed: the C library's and the loaded
            // libraries' exit handlers have nothing left to do, and running them (their code
            // paged in for it) cost `agentctl quit` 0.4–0.5 ms (A/B, 30 quits each).
            fflush(nil)
            _exit(status)
        }
        QuiesceExecutors.run {
            if let status = await FastPath.runAsync(arguments) { return status }
            await AgentCtl.mainWithUsageStatus2()
            return 0
        }
    }
}

/// `agentctl`: controls the Quiesce agent over D-Bus.
struct AgentCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentctl",
        abstract: "Control the Quiesce agent: quit it safely, hold sessions, queue NAS copies.",
        discussion: """
            Examples:
              agentctl quit                     quit, following what still runs; asks before cutting anything off
              agentctl quit --force             quit now; interrupted copies resume at the next start
              agentctl run -- rsync -a src dst  hold a session while a command runs
              agentctl sync add *.raw --to shoots/2026
              agentctl status --json

            Exit status: 0 success; 1 failure (the message says what to do); 2 usage error; \
            quit: 3 when work was cut off; status: 3 when the agent is not running.
            """,
        version: AgentCtl.version,
        subcommands: [Quit.self, Status.self, Session.self, Run.self, Sync.self])

    /// What `--version` prints: the agent's version (one place: `AgentInterface.version`).
    static let version = AgentInterface.version
}
