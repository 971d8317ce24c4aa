import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Testing

/// The real `agentd` and `agentctl` on a private session bus with python-dbusmock's notification
/// server: what a user does, and what the user sees.
@Suite("agentd and agentctl, end to end")
struct EndToEndTests {
    /// A notification server and the agent's harness on its bus.
    private func rig() async throws -> (NotificationMock, AgentHarness) {
        let mock = try await NotificationMock()
        let harness = try await AgentHarness(busAddress: mock.bus.address, owner: mock)
        return (mock, harness)
    }

    /// The id of the last notification the agent showed, once it has shown one.
    private func shownNotification(_ mock: NotificationMock, after previous: Int = 0) async throws -> UInt32 {
        var id: UInt32 = 0
        try await eventually("the prompt shown as a notification", limit: .seconds(20)) {
            let notifies = try await mock.calls().filter { $0.method == "Notify" }
            guard notifies.count > previous else { return false }
            // The mock answers Notify with ids from 1 in order; replaces_id 0 asks for a new one.
            id = UInt32(notifies.count)
            return true
        }
        return id
    }

    @Test("quit when idle: agentctl quit and agentd both exit 0")
    func quitWhenIdle() async throws {
        let (_, harness) = try await rig()
        let agent = try await harness.start()
        let quit = try await harness.ctl(["quit"])
        #expect(quit.status == 0, "\(quit.error)")
        #expect(quit.output.contains("quit cleanly"))
        #expect(await agent.exitStatus() == 0, "\(harness.log)")
    }

    @Test("a session open: the window runs out, the prompt shows, Force quit → exit 3; the queued job completes at the next start")
    func forceThenResume() async throws {
        let (mock, harness) = try await rig()
        let agent = try await harness.start(["--quit-timeout", "0.5"])
        let session = try await harness.call(.openSession, [.string("recording"), .vardict(["bind": .boolean(false)])])
        #expect(session.first?.string?.isEmpty == false)
        let source = harness.home.file("photo.raw")
        try Data("pixels".utf8).write(to: URL(fileURLWithPath: source))
        let ids = try await harness.call(.enqueue, [.strings([source]), .string("shoots"), .vardict([:])])
        #expect(ids.first?.array?.count == 1)
        try await eventually("the queued job in the properties") { try await harness.property(.queuedJobs) == .uint32(1) }
        #expect(try await harness.property(.syncWaiting)?.string?.contains("sync.nas_root") == true, "status says why the queue waits")

        let quit = try await harness.ctl(["quit", "--no-wait"])
        #expect(quit.status == 0)
        let id = try await shownNotification(mock)
        let notify = try await mock.calls().first { $0.method == "Notify" }
        #expect(notify?.arguments[3].string?.contains("Force quit anyway?") == true)
        #expect(notify?.arguments[4].string?.contains("recording") == true)
        try await mock.emit("ActionInvoked", signature: "us", [.uint32(id), .string("force")])
        #expect(await agent.exitStatus() == 3, "\(harness.log)")
        #expect(harness.log.contains("interrupted: sessions 1"))

        // Next start, with a NAS root: the unbound session is still open, and the job is copied.
        let nas = harness.home.file("nas")
        try FileManager.default.createDirectory(atPath: nas, withIntermediateDirectories: true)
        let again = try await harness.start(["--nas-root", nas])
        try await eventually("the queued job copied") {
            (try? String(contentsOfFile: nas + "/shoots/photo.raw", encoding: .utf8)) == "pixels"
        }
        #expect(try await harness.property(.activeSessions) == .uint32(1), "an unbound session survives a restart")
        let forced = try await harness.ctl(["quit", "--force"])
        #expect(forced.status == 3, "the open session is cut off: \(forced.output)")
        #expect(await again.exitStatus() == 3)
    }

    @Test("Wait: the prompt comes back after another window; the session closes → exit 0 and the prompt is withdrawn")
    func waitThenClose() async throws {
        let (mock, harness) = try await rig()
        let agent = try await harness.start(["--quit-timeout", "0.5"])
        let session = try #require(try await harness.call(.openSession, [.string("export"), .vardict(["bind": .boolean(false)])]).first?.string)
        _ = try await harness.ctl(["quit", "--no-wait"])
        let first = try await shownNotification(mock)
        try await mock.emit("ActionInvoked", signature: "us", [.uint32(first), .string("wait")])
        _ = try await shownNotification(mock, after: 1)
        let close = try await harness.ctl(["session", "close", session])
        #expect(close.status == 0, "\(close.error)")
        #expect(await agent.exitStatus() == 0, "\(harness.log)")
        #expect(try await mock.calls().contains { $0.method == "CloseNotification" }, "the prompt is withdrawn")
    }

    @Test("SIGTERM drains with the short window, SIGINT with the quit window")
    func signalWindows() async throws {
        let (_, harness) = try await rig()
        let agent = try await harness.start(["--quit-timeout", "30", "--sigterm-timeout", "0.25"])
        _ = try await harness.call(.openSession, [.string("work"), .vardict(["bind": .boolean(false)])])
        agent.signal(SIGTERM)
        try await eventually("the drain logged") { harness.log.contains("because SIGTERM") }
        #expect(harness.log.contains("because SIGTERM; 0.25 s left"), "\(harness.log)")
        agent.signal(SIGINT)
        #expect(await agent.exitStatus() == 3, "a second signal forces")
    }

    @Test("rule 10: SIGTERM with a prompt nobody answers → the agent forces at SIGTERM window + answer timeout, exit 3, the prompt withdrawn")
    func sigtermPromptUnanswered() async throws {
        let (mock, harness) = try await rig()
        let agent = try await harness.start(["--sigterm-timeout", "0.25", "--answer-timeout", "0.5"])
        _ = try await harness.call(.openSession, [.string("recording"), .vardict(["bind": .boolean(false)])])
        agent.signal(SIGTERM)
        _ = try await shownNotification(mock)
        // Before rule 10 the agent waited here for an answer until systemd killed it.
        try await eventually("agentd deciding by itself", limit: .seconds(20)) { !agent.isRunning }
        #expect(await agent.exitStatus() == 3, "\(harness.log)")
        #expect(harness.log.contains("no answer by the ceiling"), "\(harness.log)")
        #expect(try await mock.calls().contains { $0.method == "CloseNotification" }, "the unanswered prompt is taken down")
    }

    @Test("rule 10: SIGTERM while a quit's prompt is up is not ignored → exit 3 within SIGTERM window + answer timeout")
    func sigtermDuringQuitPrompt() async throws {
        let (mock, harness) = try await rig()
        let agent = try await harness.start(["--quit-timeout", "0.25", "--sigterm-timeout", "0.25", "--answer-timeout", "0.5"])
        _ = try await harness.call(.openSession, [.string("export"), .vardict(["bind": .boolean(false)])])
        _ = try await harness.ctl(["quit", "--no-wait"])
        _ = try await shownNotification(mock)
        try await eventually("the prompt up") { try await harness.property(.state) == .string("prompting") }
        agent.signal(SIGTERM)
        // Before rule 10 this SIGTERM was ignored and the quit's prompt waited for the person.
        try await eventually("agentd deciding by itself", limit: .seconds(20)) { !agent.isRunning }
        #expect(await agent.exitStatus() == 3, "\(harness.log)")
        #expect(harness.log.contains("SIGTERM → ceilingSet"), "\(harness.log)")
        #expect(harness.log.contains("no answer by the ceiling"), "\(harness.log)")
    }

    @Test("sync paused: nothing is copied, status says so, the pause survives a restart; resumed, the queue copies")
    func pauseAndResume() async throws {
        let (_, harness) = try await rig()
        let nas = harness.home.file("nas")
        try FileManager.default.createDirectory(atPath: nas, withIntermediateDirectories: true)
        let agent = try await harness.start(["--nas-root", nas])
        let pause = try await harness.ctl(["sync", "pause"])
        #expect(pause.status == 0, "\(pause.error)")
        #expect(try await harness.property(.syncPaused) == .boolean(true))
        let source = harness.home.file("IMG_0001.JPG")
        try Data("jpeg".utf8).write(to: URL(fileURLWithPath: source))
        _ = try await harness.call(.enqueue, [.strings([source]), .string("camera"), .vardict([:])])
        try await eventually("status saying sync is paused") {
            try await harness.property(.syncWaiting)?.string?.contains("sync is paused") == true
        }
        #expect(try await harness.ctl(["status"]).output.contains("1 queued (paused)"))
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)

        let again = try await harness.start(["--nas-root", nas])
        #expect(try await harness.property(.syncPaused) == .boolean(true), "the pause outlives the agent")
        #expect(harness.log.contains("sync is paused (since before this start)"), "\(harness.log)")
        #expect(!exists(nas + "/camera/IMG_0001.JPG"), "nothing copied while paused")
        let jobs = try await harness.call(.listJobs, [.vardict([:])]).first?.array ?? []
        #expect(jobs.first?.fields?[3].string == "queued")
        #expect(try await harness.ctl(["sync", "resume"]).status == 0)
        try await eventually("the queued job copied once resumed") {
            (try? String(contentsOfFile: nas + "/camera/IMG_0001.JPG", encoding: .utf8)) == "jpeg"
        }
        #expect(try await harness.property(.syncPaused) == .boolean(false))
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await again.exitStatus() == 0)
    }

    @Test("agentctl run -- CMD holds quit until the command ends")
    func runHoldsQuit() async throws {
        let (_, harness) = try await rig()
        let agent = try await harness.start()
        let marker = harness.home.file("ran")
        async let held = harness.ctl(["run", "--label", "backup", "--", "sh", "-c", "sleep 1; touch '\(marker)'"])
        try await eventually("the run's session open") { try await harness.property(.activeSessions) == .uint32(1) }
        let quit = try await harness.ctl(["quit"])
        #expect(quit.status == 0, "\(quit.output)\(quit.error)")
        // Not on a terminal it ends with how the agent stopped. (What it waited for may not be
        // said: a session that ends before the agent announces the drain is announced with it.)
        #expect(quit.output.hasSuffix("the agent quit cleanly\n"), "\(quit.output)")
        #expect(exists(marker), "the agent quit only after the command ended")
        #expect(try await held.status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    @Test("agentctl run passes SIGTERM on to its command and exits with the command's status")
    func runForwardsSigterm() async throws {
        let (_, harness) = try await rig()
        let agent = try await harness.start()
        let marker = harness.home.file("terminated")
        let ready = harness.home.file("trapping")
        let client = try PeerProcess(
            builtProduct("agentctl"),
            ["run", "--", "sh", "-c", "trap 'touch \(marker); exit 7' TERM; touch \(ready); while true; do sleep 0.05; done"],
            environment: harness.environment)
        try await eventually("the command's session open") { try await harness.property(.activeSessions) == .uint32(1) }
        try await eventually("the command set its trap") { FileManager.default.fileExists(atPath: ready) }
        client.signal(SIGTERM)
        #expect(await client.exitStatus() == 7, "the command's own status")
        #expect(FileManager.default.fileExists(atPath: marker), "the command got the SIGTERM")
        try await eventually("the session closed") { try await harness.property(.activeSessions) == .uint32(0) }
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    @Test("a client that is killed: its bound session closes by itself")
    func killedClient() async throws {
        let (_, harness) = try await rig()
        let agent = try await harness.start()
        let client = try PeerProcess(builtProduct("agentctl"), ["run", "--", "sleep", "60"], environment: harness.environment)
        try await eventually("the client's session open") { try await harness.property(.activeSessions) == .uint32(1) }
        client.signal(SIGKILL)
        #expect(await client.exitStatus() == 128 + SIGKILL)
        try await eventually("the bound session closed") { try await harness.property(.activeSessions) == .uint32(0) }
        // The count can change a moment before the line is written.
        try await eventually("the log says why") { harness.log.contains("left the bus") }
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    @Test("while draining OpenSession → ShuttingDown, and Enqueue still succeeds (rule 1: durable, copied at next launch)")
    func admissionClosed() async throws {
        let (_, harness) = try await rig()
        let agent = try await harness.start(["--quit-timeout", "30"])
        _ = try await harness.call(.openSession, [.string("keeps it draining"), .vardict(["bind": .boolean(false)])])
        _ = try await harness.ctl(["quit", "--no-wait"])
        try await eventually("draining") { try await harness.property(.state) == .string("draining") }
        await #expect(throws: DBusError.self) { _ = try await harness.call(.openSession, [.string("late"), .vardict([:])]) }
        do {
            _ = try await harness.call(.openSession, [.string("late"), .vardict([:])])
        } catch {
            #expect(error.name.rawValue == "io.github.quiesce.Error.ShuttingDown")
        }
        let late = try await harness.ctl(["sync", "add", "/etc/hostname"])
        #expect(late.status == 0, "\(late.error)")
        let queued = try await harness.call(.listJobs, [.vardict(["state": .string("queued")])])
        #expect(queued.first?.array?.count == 1, "the job waits in the queue: nothing is claimed while draining")
        _ = try await harness.ctl(["quit", "--force"])
        #expect(await agent.exitStatus() == 3)
    }

    @Test("a second instance is refused, naming the pid of the first: by the database's lock, or by the bus name on another database")
    func secondInstance() async throws {
        let (_, harness) = try await rig()
        let first = try await harness.start()
        let second = try await harness.start(waitUntilRunning: false)
        #expect(await second.exitStatus() == 1)
        #expect(harness.log.contains("is in use by process \(first.pid)"), "\(harness.log)")
        let third = try await harness.start(["--db", harness.home.file("other.db")], waitUntilRunning: false)
        #expect(await third.exitStatus() == 1)
        #expect(harness.log.contains("already running for this user (pid \(first.pid))"), "\(harness.log)")
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await first.exitStatus() == 0)
    }

    @Test("--require-mount: an empty mount point gets nothing and status says why; once mounted, the queue copies", .enabled(if: canMount))
    func requireMount() async throws {
        let (_, harness) = try await rig()
        let mountPoint = harness.home.file("nas")
        mkdir(mountPoint, 0o755)
        let agent = try await harness.start(["--nas-root", mountPoint, "--require-mount"])
        #expect(harness.log.contains("sync.nas_root") == false, "no hint about the local disk when require_mount is on")
        let source = harness.home.file("take-1.wav")
        try Data("audio".utf8).write(to: URL(fileURLWithPath: source))
        _ = try await harness.call(.enqueue, [.strings([source]), .string("takes"), .vardict([:])])
        try await eventually("status saying the NAS is not mounted") {
            try await harness.property(.syncWaiting)?.string?.contains("is not mounted") == true
        }
        let status = try await harness.ctl(["status"])
        #expect(status.output.contains("is not mounted"), "\(status.output)")
        #expect(allFiles(under: mountPoint).isEmpty, "nothing written to the local disk")

        let mount = try TmpfsMount(kilobytes: 1024, at: mountPoint)
        // The worker looks again every 10 s; an enqueue wakes it at once.
        let second = harness.home.file("take-2.wav")
        try Data("more audio".utf8).write(to: URL(fileURLWithPath: second))
        _ = try await harness.call(.enqueue, [.strings([second]), .string("takes"), .vardict([:])])
        try await eventually("both copied onto the mounted NAS") {
            (try? String(contentsOfFile: mount.path + "/takes/take-1.wav", encoding: .utf8)) == "audio"
                && (try? String(contentsOfFile: mount.path + "/takes/take-2.wav", encoding: .utf8)) == "more audio"
        }
        try await eventually("status clear again") { try await harness.property(.syncWaiting) == .string("") }
        _ = try await harness.ctl(["quit"])
        #expect(await agent.exitStatus() == 0, "\(harness.log)")
    }

    @Test("ListJobs lists newest first, as the interface says (bad input: ReliabilityTests)")
    func listJobsOrder() async throws {
        let (_, harness) = try await rig()
        let agent = try await harness.start()
        let first = try await harness.call(.enqueue, [.strings(["/etc/hostname"]), .string("a"), .vardict([:])])
        let second = try await harness.call(.enqueue, [.strings(["/etc/hostname"]), .string("b"), .vardict([:])])
        let listed = try await harness.call(.listJobs, [.vardict(["state": .string("queued")])]).first?.array?.compactMap { $0.fields?[0].uint64 }
        #expect(listed == [second, first].compactMap { $0.first?.array?.first?.uint64 })
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    @Test("ListJobs and ListSessions page: a limit and a cursor give every row once, in order; a bad cursor or an oversized page is refused saying what to do")
    func listsPage() async throws {
        let (_, harness) = try await rig()
        let agent = try await harness.start()
        let ids = try await harness.call(.enqueue, [.strings(Array(repeating: "/etc/hostname", count: 25)), .string("a"), .vardict([:])])
            .first?.array?.compactMap(\.uint64) ?? []
        #expect(ids.count == 25)
        var jobPages: [[UInt64]] = []
        var before: UInt64?
        repeat {
            var filter: [String: DBusValue] = ["limit": .uint32(10)]
            if let before { filter["before"] = .uint64(before) }
            let page = try await harness.call(.listJobs, [.vardict(filter)]).first?.array?.compactMap { $0.fields?[0].uint64 } ?? []
            jobPages.append(page)
            before = page.last
        } while jobPages.last?.count == 10
        #expect(jobPages.map(\.count) == [10, 10, 5])
        #expect(jobPages.flatMap { $0 } == ids.reversed(), "newest first, each once")

        var sessionIDs: [String] = []
        for index in 0..<7 {
            let id = try await harness.call(.openSession, [.string("s\(index)"), .vardict(["bind": .boolean(false)])]).first?.string
            sessionIDs.append(try #require(id))
        }
        _ = try await harness.call(.closeSession, [.string(sessionIDs[3])])
        let open = sessionIDs.enumerated().filter { $0.offset != 3 }.map(\.element)
        let firstPage = try await harness.call(.listSessions, [.vardict(["limit": .uint32(3)])]).first?.array?.compactMap { $0.fields?[0].string }
        #expect(firstPage == Array(open.prefix(3)), "in the order they were opened")
        // A cursor whose session has closed since still works.
        let afterClosed = try await harness.call(.listSessions, [.vardict(["limit": .uint32(100), "after": .string(sessionIDs[3])])])
            .first?.array?.compactMap { $0.fields?[0].string }
        #expect(afterClosed == Array(sessionIDs.suffix(3)))
        let all = try await harness.call(.listSessions, [.vardict([:])]).first?.array?.count
        #expect(all == 6)

        await #expect {
            _ = try await harness.call(.listSessions, [.vardict(["after": .string("no-such-session")])])
        } throws: { error in
            "\(error)".contains("InvalidArgument") && "\(error)".contains("list from the start")
        }
        await #expect {
            _ = try await harness.call(.listJobs, [.vardict(["limit": .uint32(10_001)])])
        } throws: { error in
            "\(error)".contains("over 10000 a page")
        }
        let listed = try await harness.ctl(["session", "list"])
        #expect(listed.status == 0)
        #expect(listed.output.split(separator: "\n").count == 6, "agentctl pages through every open session: \(listed.output)")
        _ = try await harness.ctl(["quit", "--force"])
        #expect(await agent.exitStatus() == 3)
    }

    @Test("status when not running exits 3; quit when not running is success")
    func notRunning() async throws {
        let (_, harness) = try await rig()
        let status = try await harness.ctl(["status"])
        #expect(status.status == 3)
        #expect(status.output.contains("not running"))
        let quit = try await harness.ctl(["quit"])
        #expect(quit.status == 0)
        let session = try await harness.ctl(["session", "list"])
        #expect(session.status == 1)
        #expect(session.error.contains("not running"))
        #expect(try await harness.ctl(["no-such-command"]).status == 2, "usage errors exit 2")
        #expect(try await harness.ctl(["quit", "--timeout", "soon"]).status == 2)
    }
}
