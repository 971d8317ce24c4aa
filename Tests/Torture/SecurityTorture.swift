import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport

/// Who may do what: a second, real user (made with `useradd`) on a bus whose policy lets it
/// connect is refused by every method; the agent's files are private; no binary can run a shell,
/// and `agentctl run` passes its command's arguments through untouched.
public struct SecurityTorture: Sendable {
    public static let userName = "quiesce-torture"

    public init() {}

    /// The methods a stranger tries, each with arguments of the right signature (so the refusal
    /// is the uid check, not a signature check). python-dbus, since dbus-send cannot write `a{sv}`.
    /// The run checks that it tried every method of the interface.
    static let strangerScript = #"""
        import sys, dbus
        bus = dbus.bus.BusConnection(sys.argv[1])
        agent = bus.get_object("\#(AgentInterface.busName)", "\#(AgentInterface.path)")
        calls = [
            ("Quit", [dbus.Dictionary({"force": dbus.Boolean(True)}, signature="sv")]),
            ("OpenSession", ["intruder", dbus.Dictionary({}, signature="sv")]),
            ("CloseSession", [sys.argv[2]]),
            ("ListSessions", [dbus.Dictionary({}, signature="sv")]),
            ("Enqueue", [dbus.Array(["/etc/hostname"], signature="s"), "stolen", dbus.Dictionary({}, signature="sv")]),
            ("ListJobs", [dbus.Dictionary({}, signature="sv")]),
            ("ChangeJob", [dbus.UInt64(1), "cancel"]),
            ("Answer", ["force"]),
            ("PauseSync", []),
            ("ResumeSync", []),
        ]
        for member, arguments in calls:
            try:
                agent.get_dbus_method(member, "\#(AgentInterface.interface)")(*arguments)
                print(member, "succeeded")
            except dbus.exceptions.DBusException as error:
                print(member, error.get_dbus_name())
        """#

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> Tally {
        var tally = Tally("Security: another uid, file modes, confinement, no shell")
        guard geteuid() == 0 else {
            throw PeerMissing(what: "root, to make a test user with useradd (run make torture or make test as root)")
        }
        let (uid, made) = try await Self.testUser()
        defer { if made { _ = runBlockingQuietly("/usr/sbin/userdel", [Self.userName]) } }
        let bus = try PrivateBus()
        bus.openToOtherUsers()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let agent = try await harness.start()
        let session = try await harness.call(.openSession, [.string("owner's work"), .vardict(["bind": .boolean(false)])]).first?.string ?? ""
        let job = jobIDs(try await harness.call(.enqueue, [.strings(["/etc/hostname"]), .string("mine"), .vardict([:])])).first ?? 0

        await tally.attempt { tally in
            let result = try await QuiesceTestSupport.run("/usr/bin/setpriv", [
                "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/python3", "-c", Self.strangerScript, bus.address, session,
            ])
            let lines = result.output.split(separator: "\n").map(String.init)
            let methods = AgentInterface.Method.all.map(\.name)
            if lines.count != methods.count { tally.fail("the stranger's script ran \(lines.count) calls, the interface has \(methods.count): \(result.error)") }
            for method in methods where !lines.contains(where: { $0.hasPrefix(method + " ") }) {
                tally.fail("the stranger's script does not try \(method): add it to strangerScript")
            }
            for line in lines where !line.hasSuffix(" io.github.quiesce.Error.AccessDenied") {
                tally.fail("as \(Self.userName): \(line), expected AccessDenied")
            }
            if !harness.log.contains("refused a call") { tally.fail("the refusal was not logged") }
        }
        await tally.attempt { tally in
            // The stranger changed nothing: the owner's session and job are as they were.
            let sessions = try await harness.call(.listSessions, [.vardict([:])]).first?.array ?? []
            if !sessions.contains(where: { $0.fields?.first?.string == session }) { tally.fail("the owner's session is gone") }
            if sessions.count != 1 { tally.fail("\(sessions.count) sessions open, expected the owner's one") }
            let jobs = try await harness.call(.listJobs, [.vardict([:])]).first?.array ?? []
            if jobs.count != 1 || jobs.first?.fields?.first?.uint64 != job { tally.fail("the queue changed: \(jobs)") }
            if try await harness.property(.state) != .string("running") { tally.fail("the agent is not running") }
            if try await harness.property(.syncPaused) != .boolean(false) { tally.fail("the stranger paused sync") }
        }
        await tally.attempt { tally in
            let database = harness.databasePath
            let directory = (database as NSString).deletingLastPathComponent
            if mode(of: directory) != 0o700 { tally.fail("\(directory) has mode \(String(mode(of: directory) ?? 0, radix: 8)), expected 700") }
            for file in [database, database + "-wal", database + "-shm", database + ".lock"] where exists(file) {
                if mode(of: file) != 0o600 { tally.fail("\(file) has mode \(String(mode(of: file) ?? 0, radix: 8)), expected 600") }
            }
            if !exists(database) { tally.fail("no database at \(database)") }
        }
        await tally.attempt { tally in try await Self.noShell(harness, tally: &tally) }

        _ = try await harness.call(.closeSession, [.string(session)])
        let quit = try await harness.ctl(["quit"])
        if quit.status != 0 { tally.fail("the owner's quit exited \(quit.status): \(quit.error)") }
        if await agent.exitStatus() != 0 { tally.fail("agentd did not exit cleanly") }
        tally.figures = ["8 methods refused to uid \(uid) (\(Self.userName), made with useradd)"]
        return tally
    }

    /// The test user's uid, and whether we made it (and so remove it).
    static func testUser() async throws -> (uid: UInt32, made: Bool) {
        if let existing = getpwnam(userName) { return (existing.pointee.pw_uid, false) }
        let made = try await QuiesceTestSupport.run("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", userName])
        guard made.status == 0, let user = getpwnam(userName) else {
            throw PeerMissing(what: "a test user: useradd \(userName) failed (\(made.status)): \(made.error)")
        }
        return (user.pointee.pw_uid, true)
    }

    /// No binary imports a function that runs a shell, and `agentctl run` hands its command's
    /// arguments over as they are (a `$(…)` in them stays text).
    static func noShell(_ harness: AgentHarness, tally: inout Tally) async throws {
        for binary in ["agentd", "agentctl"] {
            let symbols = try await QuiesceTestSupport.run("/usr/bin/nm", ["-D", "--undefined-only", builtProduct(binary)])
            guard symbols.status == 0 else { return tally.fail("nm could not read \(binary): \(symbols.error)") }
            let imported = Set(symbols.output.split(separator: "\n").compactMap { $0.split(separator: " ").last.map { String($0.split(separator: "@")[0]) } })
            let shells = imported.intersection(["system", "popen", "wordexp", "execl", "execle", "execlp"])
            if !shells.isEmpty { tally.fail("\(binary) imports \(shells.sorted()), which run a shell or take one command line") }
        }
        let marker = harness.home.file("shell-ran")
        let trap = "$(touch \(marker)); touch \(marker)"
        let result = try await harness.ctl(["run", "--label", "echo", "--", "/bin/echo", trap])
        if result.status != 0 { tally.fail("agentctl run -- /bin/echo exited \(result.status): \(result.error)") }
        if result.output.trimmingCharacters(in: .newlines) != trap { tally.fail("the argument reached echo changed: \(result.output)") }
        if exists(marker) { tally.fail("a shell ran the argument given to agentctl run") }
    }
}

/// Runs a command for cleanup, ignoring what it says.
func runBlockingQuietly(_ executable: String, _ arguments: [String]) -> Int32 {
    (try? runBlocking(executable, arguments).status) ?? -1
}
