import Foundation
import QuiesceAgent
import QuiesceCopy
import QuiesceCore
import QuiesceTestSupport
import Testing

/// The configuration layers of the brief: flags over environment over file over defaults, and
/// errors that name the key and the value.
@Suite("agentd configuration")
struct ConfigurationTests {
    let home = TemporaryDirectory("quiesce-config")
    var environment: [String: String] { ["HOME": home.path] }

    @Test("no configuration at all: the brief's defaults and XDG paths")
    func defaults() async throws {
        let configuration = try await AgentConfiguration.load(environment: environment)
        #expect(configuration.shutdown.quitTimeout == .seconds(30))
        #expect(configuration.shutdown.sigtermTimeout == .seconds(5))
        #expect(configuration.shutdown.answerTimeout == .seconds(15))
        #expect(configuration.shutdown.afterWait == .reprompt)
        #expect(configuration.shutdown.stopTimeout == .seconds(2))
        #expect(configuration.nasRoot == nil)
        #expect(configuration.requireMount == false)
        #expect(configuration.syncConcurrency == 2)
        #expect(configuration.onConflict == .keepBoth, "nothing on the NAS is replaced by surprise unless asked")
        #expect(configuration.sessionManager == .auto)
        #expect(configuration.storePath == home.path + "/.local/state/quiesce/agent.db")
    }

    @Test("file, then environment, then flags: each layer wins over the ones below")
    func layers() async throws {
        let file = home.file(".config/quiesce/agent.yaml")
        try FileManager.default.createDirectory(atPath: home.file(".config/quiesce"), withIntermediateDirectories: true)
        try """
            shutdown:
              quit_timeout: 60
              sigterm_timeout: 2.5
              answer_timeout: 7
              after_wait: force
            sync:
              nas_root: /mnt/nas
              require_mount: true
              concurrency: 4
              on_conflict: fail
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try await AgentConfiguration.load(environment: environment)
        #expect(fromFile.shutdown.quitTimeout == .seconds(60))
        #expect(fromFile.shutdown.sigtermTimeout == .milliseconds(2500))
        #expect(fromFile.shutdown.answerTimeout == .seconds(7))
        #expect(fromFile.shutdown.afterWait == .force)
        #expect(fromFile.nasRoot == "/mnt/nas")
        #expect(fromFile.requireMount == true)
        #expect(fromFile.syncConcurrency == 4)
        #expect(fromFile.onConflict == .fail)

        var withEnvironment = environment
        withEnvironment["QUIESCE_SHUTDOWN_QUIT_TIMEOUT"] = "45"
        withEnvironment["QUIESCE_SHUTDOWN_ANSWER_TIMEOUT"] = "0"
        withEnvironment["QUIESCE_SYNC_NAS_ROOT"] = "/mnt/other"
        withEnvironment["QUIESCE_SYNC_REQUIRE_MOUNT"] = "no"
        withEnvironment["QUIESCE_SYNC_ON_CONFLICT"] = "Replace"
        let fromEnvironment = try await AgentConfiguration.load(environment: withEnvironment)
        #expect(fromEnvironment.shutdown.quitTimeout == .seconds(45))
        #expect(fromEnvironment.shutdown.answerTimeout == .zero)
        #expect(fromEnvironment.nasRoot == "/mnt/other")
        #expect(fromEnvironment.requireMount == false)
        #expect(fromEnvironment.onConflict == .replace)
        #expect(fromEnvironment.syncConcurrency == 4, "what the environment does not set still comes from the file")

        let fromFlags = try await AgentConfiguration.load(flags: [.quitTimeout: "10", .answerTimeout: "3.5", .storePath: "/tmp/x.db"], environment: withEnvironment)
        #expect(fromFlags.shutdown.quitTimeout == .seconds(10))
        #expect(fromFlags.shutdown.answerTimeout == .milliseconds(3500))
        let withoutManager = try await AgentConfiguration.load(flags: [.sessionManager: "false"], environment: withEnvironment)
        #expect(withoutManager.sessionManager == .off)
        #expect(fromFlags.storePath == "/tmp/x.db")
    }

    @Test("a bad value stops the start, naming the key and the value")
    func badValues() async throws {
        let cases: [([AgentConfiguration.Key: String], String)] = [
            ([.quitTimeout: "soon"], "shutdown.quit_timeout"),
            ([.sigtermTimeout: "-1"], "shutdown.sigterm_timeout"),
            ([.answerTimeout: "forever"], "shutdown.answer_timeout"),
            ([.afterWait: "maybe"], "shutdown.after_wait"),
            ([.syncConcurrency: "0"], "sync.concurrency"),
            ([.nasRoot: "relative/dir"], "sync.nas_root"),
            ([.requireMount: "sometimes"], "sync.require_mount"),
            ([.onConflict: "overwrite"], "sync.on_conflict"),
            ([.sessionManager: "gnome"], "desktop.session_manager"),
            ([.storePath: "agent.db"], "store.path"),
        ]
        for (flags, key) in cases {
            do {
                _ = try await AgentConfiguration.load(flags: flags, environment: environment)
                Issue.record("\(flags) was accepted")
            } catch {
                #expect(error.key == key)
                #expect(error.value == flags.values.first)
            }
        }
    }

    @Test("an empty or commented-out file sets nothing and stops nothing; a file that is not a mapping names the file")
    func blankFile() async throws {
        try FileManager.default.createDirectory(atPath: home.file(".config/quiesce"), withIntermediateDirectories: true)
        let file = home.file(".config/quiesce/agent.yaml")
        for text in ["", "\n", "# shutdown:\n#   quit_timeout: 60\n", "---\n"] {
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await AgentConfiguration.load(environment: environment).shutdown.quitTimeout == .seconds(30), "\(text.debugDescription)")
        }
        try "just words\n".write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try await AgentConfiguration.load(environment: environment)
            Issue.record("a file that is not a mapping was accepted")
        } catch {
            #expect(error.value == file)
            #expect(error.description.contains("docs/configuration.md"))
        }
    }

    @Test("--config must exist; the default file may be missing")
    func explicitFile() async throws {
        await #expect(throws: ConfigurationError.self) {
            _ = try await AgentConfiguration.load(environment: environment, file: home.file("nope.yaml"))
        }
        try "sync:\n  concurrency: 3\n".write(toFile: home.file("mine.yaml"), atomically: true, encoding: .utf8)
        #expect(try await AgentConfiguration.load(environment: environment, file: home.file("mine.yaml")).syncConcurrency == 3)
    }
}
