import ArgumentParser
import QuiesceCommandLine
import Foundation
import Logging
import QuiesceAgent
import QuiesceCore
import QuiesceInterface
import QuiesceThreads

/// `agentd`: the Quiesce agent. Runs in the foreground (systemd --user or `make run`), logs one
/// line an event to stderr, and exits 0 (clean), 3 (forced, work interrupted), 1 (could not
/// start), 2 (usage).
/// The process's entry: signals blocked before any thread exists (a thread of ours takes them),
/// then the executors that leave an idle agent without wake-ups, then the command.
@main
enum AgentDaemonMain {
    static func main() {
        SignalWaiter.block([SIGINT, SIGTERM, SIGHUP])
        QuiesceExecutors.run {
            await AgentDaemon.mainWithUsageStatus2()
            return 0
        }
    }
}

struct AgentDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentd",
        abstract: "The Quiesce agent: holds sessions and a durable NAS-sync queue, and quits without losing work.",
        discussion: """
            Settings come from these flags, then QUIESCE_* environment variables, then \
            $XDG_CONFIG_HOME/quiesce/agent.yaml (or --config), then defaults. See docs/configuration.md.

            Signals: SIGINT quits with the quit window, SIGTERM with the SIGTERM window, a second one \
            forces; SIGHUP reloads the configuration. After a SIGTERM the agent has decided within the \
            SIGTERM window + the answer timeout (20 s by default), asked or not.

            Exit status: 0 stopped cleanly, 3 forced with work interrupted (the queue resumes at next \
            start), 1 could not start, 2 usage error.
            """,
        version: AgentInterface.version)

    @Option(name: .customLong("config"), help: ArgumentHelp("A YAML configuration file (it must exist).", valueName: "file"))
    var configFile: String?

    @Option(name: .customLong("quit-timeout"), help: ArgumentHelp("Quit window in seconds (shutdown.quit_timeout, default 30).", valueName: "seconds"))
    var quitTimeout: String?

    @Option(name: .customLong("sigterm-timeout"), help: ArgumentHelp("SIGTERM window in seconds (shutdown.sigterm_timeout, default 5).", valueName: "seconds"))
    var sigtermTimeout: String?

    @Option(name: .customLong("answer-timeout"), help: ArgumentHelp("After a SIGTERM or the desktop's logout, how long a prompt waits for an answer before the agent forces (shutdown.answer_timeout, default 15).", valueName: "seconds"))
    var answerTimeout: String?

    @Option(name: .customLong("after-wait"), help: ArgumentHelp("After a Wait runs out: reprompt or force (shutdown.after_wait).", valueName: "policy"))
    var afterWait: String?

    @Option(name: .customLong("stop-timeout"), help: ArgumentHelp("Seconds each component may take to stop (shutdown.stop_timeout, default 2).", valueName: "seconds"))
    var stopTimeout: String?

    @Option(name: .customLong("nas-root"), help: ArgumentHelp("The mounted NAS directory to copy into (sync.nas_root).", valueName: "dir"))
    var nasRoot: String?

    @Flag(name: .customLong("require-mount"), help: "Copy only while the NAS root is mounted (sync.require_mount; off by default).")
    var requireMount = false

    @Option(name: .customLong("sync-concurrency"), help: ArgumentHelp("Copies at once (sync.concurrency, default 2).", valueName: "n"))
    var syncConcurrency: String?

    @Option(name: .customLong("on-conflict"), help: ArgumentHelp("When a copy's name on the NAS holds a file the agent did not write: keep-both (the default: the copy lands beside it under a conflict name), replace, or fail (sync.on_conflict).", valueName: "policy"))
    var onConflict: String?

    @Flag(name: .customLong("session-manager"), inversion: .prefixedNo, help: "Register with the desktop's session manager (desktop.session_manager; default: when one is on the bus).")
    var sessionManager: Bool?

    @Flag(name: .customLong("tray"), inversion: .prefixedNo, help: "Show a tray icon (tray.enabled; default: when a tray host is on the bus).")
    var tray: Bool?

    @Option(name: .customLong("db"), help: ArgumentHelp("The database file (store.path).", valueName: "file"))
    var database: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        LoggingSystem.bootstrap { _ in
            var handler = JournalLogHandler(environment: environment)
            handler.logLevel = environment["QUIESCE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        let logger = Logger(label: "agentd")
        var flags: [AgentConfiguration.Key: String] = [:]
        flags[.quitTimeout] = quitTimeout
        flags[.sigtermTimeout] = sigtermTimeout
        flags[.answerTimeout] = answerTimeout
        flags[.afterWait] = afterWait
        flags[.stopTimeout] = stopTimeout
        flags[.nasRoot] = nasRoot
        flags[.syncConcurrency] = syncConcurrency
        flags[.onConflict] = onConflict
        if requireMount { flags[.requireMount] = "true" }
        flags[.storePath] = database
        if let sessionManager { flags[.sessionManager] = sessionManager ? "true" : "false" }
        if let tray { flags[.tray] = tray ? "true" : "false" }
        let file = configFile
        let read: @Sendable () async throws -> AgentConfiguration = { [flags] in try await AgentConfiguration.load(flags: flags, file: file) }

        let configuration: AgentConfiguration
        do {
            configuration = try await read()
        } catch {
            logger.critical("bad configuration: \(error)")
            throw ExitCode(1)
        }
        let status = await Agent.run(configuration: configuration, reload: read, logger: logger)
        // Everything that must outlive us is done by now: the database checkpointed and closed,
        // the bus connection flushed and closed, the log written. The C library's and the
        // runtime's exit handlers have nothing left to save and cost ~1.3 ms of every quit
        // (A/B, 12 idle quits: 7.1 → 5.9 ms median): flush stdio and end here.
        fflush(nil)
        _exit(status)
    }
}
