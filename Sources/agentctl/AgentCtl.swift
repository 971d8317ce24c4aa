import ArgumentParser
import QuiesceCommandLine

/// `agentctl`: controls the Quiesce agent over D-Bus.
@main
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
        version: "0.5.0",
        subcommands: [Quit.self, Status.self, Session.self, Run.self, Sync.self])

    static func main() async {
        await mainWithUsageStatus2()
    }
}
