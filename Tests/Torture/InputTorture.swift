import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport

/// Bad input at the real agent: a table of named cases (every method with a wrong signature,
/// empty and 1 MiB strings, unknown ids, destinations that leave the NAS root, a file name that is
/// not UTF-8 through `agentctl sync add`), then random calls. The agent must answer each with a
/// success or a named error, stay up, write nothing outside the NAS root, and keep its database
/// whole.
public struct InputTorture: Sendable {
    public var fuzzCalls: Int
    public var seed: UInt64

    public init(fuzzCalls: Int, seed: UInt64 = 20_261_122) {
        self.fuzzCalls = fuzzCalls
        self.seed = seed
    }

    static let invalidArgs = "org.freedesktop.DBus.Error.InvalidArgs"
    static let invalidArgument = "io.github.quiesce.Error.InvalidArgument"
    static let notFound = "io.github.quiesce.Error.NotFound"

    /// One call and the errors that may answer it.
    struct Case {
        let member: String
        let arguments: [DBusValue]
        let expected: Set<String>
        init(_ method: AgentInterface.Method, _ arguments: [DBusValue], _ expected: String...) {
            self.member = method.name
            self.arguments = arguments
            self.expected = Set(expected)
        }

        /// A call of a member the interface does not have.
        init(member: String, _ arguments: [DBusValue], _ expected: String...) {
            self.member = member
            self.arguments = arguments
            self.expected = Set(expected)
        }
    }

    static var cases: [Case] {
        let huge = String(repeating: "x", count: 1 << 20)
        let file = "/etc/hostname"
        func enqueue(_ sources: [String], _ destination: String) -> Case {
            Case(.enqueue, [.strings(sources), .string(destination), .vardict([:])], invalidArgument)
        }
        return [
            // Wrong signatures, method by method.
            Case(.quit, [.string("now")], invalidArgs),
            Case(.quit, [], invalidArgs),
            Case(.openSession, [.uint32(1)], invalidArgs),
            Case(.openSession, [.string("x")], invalidArgs),
            Case(.closeSession, [], invalidArgs),
            Case(.closeSession, [.uint64(1)], invalidArgs),
            Case(.listSessions, [.string("all")], invalidArgs),
            Case(.enqueue, [.string(file), .string("a"), .vardict([:])], invalidArgs),
            Case(.enqueue, [.strings([file]), .string("a")], invalidArgs),
            Case(.listJobs, [], invalidArgs),
            Case(.listJobs, [.string("queued")], invalidArgs),
            Case(.changeJob, [.string("1"), .string("retry")], invalidArgs),
            Case(.changeJob, [.uint64(1)], invalidArgs),
            Case(.answer, [], invalidArgs),
            Case(.answer, [.boolean(true)], invalidArgs),
            Case(member: "Nope", [], "org.freedesktop.DBus.Error.UnknownMethod"),
            // Options that are not options (none of these may quit).
            Case(.quit, [.vardict(["force": .string("yes")])], invalidArgument),
            Case(.quit, [.vardict(["timeout": .int64(-1)])], invalidArgument),
            Case(.quit, [.vardict(["soon": .boolean(true)])], invalidArgument),
            Case(.openSession, [.string("x"), .vardict(["bind": .string("yes")])], invalidArgument),
            Case(.listJobs, [.vardict(["state": .string("sleeping")])], invalidArgument),
            Case(.listJobs, [.vardict(["limit": .string("ten")])], invalidArgument),
            // Empty and 1 MiB strings.
            Case(.openSession, [.string(""), .vardict([:])], invalidArgument),
            Case(.openSession, [.string(huge), .vardict([:])], invalidArgument),
            Case(.closeSession, [.string("")], notFound),
            Case(.closeSession, [.string(huge)], notFound),
            Case(.answer, [.string("")], invalidArgument),
            Case(.answer, [.string(huge)], invalidArgument),
            Case(.changeJob, [.uint64(1), .string(huge)], invalidArgument, notFound),
            enqueue([], "a"),
            enqueue([""], "a"),
            enqueue(["/" + huge], "a"),
            enqueue([file], huge),
            // Unknown ids.
            Case(.closeSession, [.string("s-no-such-session")], notFound),
            Case(.changeJob, [.uint64(999_999_999), .string("retry")], notFound),
            Case(.changeJob, [.uint64(.max), .string("cancel")], notFound),
            Case(.answer, [.string("force")], notFound),
            // Destinations that leave the NAS root, sources that are not absolute paths.
            enqueue([file], ".."),
            enqueue([file], "../outside"),
            enqueue([file], "a/../../outside"),
            enqueue([file], "/etc"),
            enqueue(["relative/file"], "a"),
            enqueue([file], "a/./../.."),
        ]
    }

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> [Tally] {
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let nas = harness.home.file("nas")
        let outside = harness.home.file("outside")
        mkdir(nas, 0o755)
        mkdir(outside, 0o755)
        symlink(outside, "\(nas)/escape")
        let agent = try await harness.start(["--nas-root", nas])

        var named = Tally("Bad input: named cases (wrong signatures, empty and 1 MiB strings, unknown ids, escapes, non-UTF-8 names)")
        for test in Self.cases {
            await named.attempt { tally in
                do throws(DBusError) {
                    let reply = try await harness.call(member: test.member, test.arguments)
                    tally.fail("\(test.member)\(Self.shape(test.arguments)) succeeded (\(reply)), expected \(test.expected.sorted())")
                } catch {
                    if !test.expected.contains(error.name.rawValue) {
                        tally.fail("\(test.member)\(Self.shape(test.arguments)) answered \(error.name), expected \(test.expected.sorted())")
                    } else if error.message.isEmpty {
                        tally.fail("\(test.member)\(Self.shape(test.arguments)) answered \(error.name) with no message")
                    }
                }
            }
        }
        await named.attempt { tally in try await Self.symlinkEscape(harness, outside: outside, tally: &tally) }
        await named.attempt { tally in try await Self.nonUTF8Name(harness, tally: &tally) }
        if !agent.isRunning { named.fail("agentd is no longer running after the named cases: \(harness.log.suffix(2000))") }

        var fuzz = Tally("Bad input: \(fuzzCalls) random calls (members, signatures, values)")
        try await Self.fuzz(harness, calls: fuzzCalls, seed: seed, tally: &fuzz)
        if !agent.isRunning { fuzz.fail("agentd is no longer running after the random calls: \(harness.log.suffix(2000))") }
        if try await harness.property(.state) != .string("running") { fuzz.fail("the agent left the running state") }

        let quit = try await harness.ctl(["quit", "--force"])
        if quit.status == 1 { fuzz.fail("agentctl quit --force failed: \(quit.error)") }
        _ = await agent.exitStatus()
        let integrity = try DatabaseProbe(path: harness.databasePath).integrity()
        if integrity != "ok" { fuzz.fail("integrity_check after the calls: \(integrity)") }
        if !directoryEntries(outside).isEmpty { named.fail("files written outside the NAS root: \(directoryEntries(outside))") }
        return [named, fuzz]
    }

    /// `(su)` for a list of arguments.
    static func shape(_ arguments: [DBusValue]) -> String {
        "(" + arguments.map { "\($0)".count > 60 ? "<\($0.signature)>" : "\($0)" }.joined(separator: ", ") + ")"
    }

    /// A destination that is a symlink out of the NAS root: queued (the link is resolved when
    /// copying), then refused with its reason; nothing is written outside.
    static func symlinkEscape(_ harness: AgentHarness, outside: String, tally: inout Tally) async throws {
        let ids = jobIDs(try await harness.call(.enqueue, [.strings(["/etc/hostname"]), .string("escape"), .vardict([:])]))
        guard let id = ids.first else { return tally.fail("Enqueue to a symlinked destination returned no id") }
        try await eventually("the job through a symlink refused with its reason") {
            let jobs = try await harness.call(.listJobs, [.vardict([:])]).first?.array ?? []
            let job = jobs.first { $0.fields?.first?.uint64 == id }
            return job.map { "\($0)".contains("symbolic link") } ?? false
        }
        if !directoryEntries(outside).isEmpty { tally.fail("a copy through a symlink landed outside the NAS root") }
    }

    /// `agentctl sync add` with a file name that is not UTF-8 (which D-Bus strings cannot carry):
    /// refused on the command line with a reason, nothing queued.
    static func nonUTF8Name(_ harness: AgentHarness, tally: inout Tally) async throws {
        let directory = harness.home.file("odd-names")
        mkdir(directory, 0o755)
        let before = try await harness.call(.listJobs, [.vardict([:])]).first?.array?.count ?? 0
        // The name's bytes are \xff\xfe: made and passed by the shell, since a Swift String cannot hold them.
        let script = #"name="$(printf '\377\376.raw')"; : > "$1/$name" && exec "$0" sync add "$1/$name""#
        let result = try await QuiesceTestSupport.run("/bin/sh", ["-c", script, builtProduct("agentctl"), directory], environment: harness.environment)
        if result.status != 2 { tally.fail("agentctl sync add with a non-UTF-8 name exited \(result.status), expected 2 (usage): \(result.error)") }
        if !result.error.contains("not valid UTF-8") { tally.fail("agentctl did not say the name is not UTF-8: \(result.error)") }
        if directoryEntries(directory).count != 1 { tally.fail("the oddly named file was not there to add") }
        let after = try await harness.call(.listJobs, [.vardict([:])]).first?.array?.count ?? 0
        if after != before { tally.fail("a job was queued for a name that is not UTF-8") }
    }
}
