import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport

/// Faults around the agent, each against the real `agentd`: the notification server, logind, the
/// session bus, the NAS and the database's disk fail in the ways they do on users' machines.
public struct FaultTorture: Sendable {
    /// How many times each fault is repeated.
    public var rounds: Int

    public init(rounds: Int) {
        self.rounds = rounds
    }

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> [Tally] {
        var tallies: [Tally] = []
        var prompt = Tally("Faults: notification server absent, without actions, killed while the prompt shows → force at the deadline")
        for _ in 0..<rounds {
            for fault in PromptFault.allCases {
                await prompt.attempt { tally in try await Self.promptFault(fault, tally: &tally) }
            }
        }
        prompt.figures = ["exit 3 at the deadline each time, the queued job kept"]
        tallies.append(prompt)
        log(prompt.summary)

        var logind = Tally("Faults: logind absent at start, then killed and restarted → the delay lock is taken each time it returns")
        await logind.attempt { tally in try await Self.logindFaults(restarts: rounds * 2, tally: &tally) }
        logind.figures = ["the lock in ListInhibitors after logind appeared and after each of \(rounds * 2) restarts"]
        tallies.append(logind)
        log(logind.summary)

        var bus = Tally("Faults: the session bus killed during copies → exit within the hard deadline, database consistent")
        for _ in 0..<rounds {
            await bus.attempt { tally in try await Self.sessionBusKilled(tally: &tally) }
        }
        let exits = bus.figures.compactMap { Int($0) }.sorted()
        bus.figures = exits.isEmpty ? [] : ["exited \(exits[0])–\(exits[exits.count - 1]) ms after the bus died (hard deadline 4 s); every copy completed at the next start"]
        tallies.append(bus)
        log(bus.summary)

        var nas = Tally("Faults: the NAS root full, read-only or removed mid-copy → jobs kept and retried, no partial left")
        for _ in 0..<rounds {
            for fault in NASFault.allCases {
                await nas.attempt { tally in try await Self.nasFault(fault, tally: &tally) }
            }
        }
        nas.figures = ["each time: jobs queued with the reason (full, read-only: in the job; removed: in the agent's status, no attempt counted), none given up, all copied and identical after the agent's own retries"]
        tallies.append(nas)
        log(nas.summary)

        var database = Tally("Faults: the database locked by another process at start, or its disk full → a clear error, nothing lost")
        for _ in 0..<rounds {
            await database.attempt { tally in try await Self.databaseLocked(tally: &tally) }
            await database.attempt { tally in try await Self.databaseDiskFull(tally: &tally) }
        }
        database.figures = ["locked: exit 1 naming the holder's pid; disk full: StorageFailed saying so, the agent up, nothing lost"]
        tallies.append(database)
        log(database.summary)
        return tallies
    }

    // MARK: The prompt

    enum PromptFault: CaseIterable {
        case absent, withoutActions, killedWhileShowing
    }

    /// A session open, a short quit window, and no way to ask: the agent forces at the deadline
    /// (exit 3), and the forced quit loses nothing (the queued job is still there).
    static func promptFault(_ fault: PromptFault, tally: inout Tally) async throws {
        var mock: NotificationMock?
        let address: String
        let owner: AnyObject
        switch fault {
        case .absent:
            let bus = try PrivateBus()
            (address, owner) = (bus.address, bus)
        case .withoutActions:
            let server = try await NotificationMock(capabilities: "body")
            (address, owner) = (server.bus.address, server)
        case .killedWhileShowing:
            let server = try await NotificationMock()
            (address, owner, mock) = (server.bus.address, server, server)
        }
        let harness = try await AgentHarness(busAddress: address, owner: owner)
        let agent = try await harness.start(["--quit-timeout", "0.3"])
        _ = try await harness.call(.openSession, [.string("unfinished work"), .vardict(["bind": .boolean(false)])])
        let job = jobIDs(try await harness.call(.enqueue, [.strings(["/etc/hostname"]), .string("kept"), .vardict([:])]))
        _ = try await harness.call(.quit, [.vardict([:])])
        if let mock {
            try await eventually("the prompt shown") { try await mock.calls().contains { $0.method == "Notify" } }
            mock.stop()
        }
        let status = await agent.exitStatus()
        if status != 3 { tally.fail("\(fault): agentd exited \(status), expected 3 (forced): \(harness.log.suffix(1500))") }
        let jobs = try DatabaseProbe(path: harness.databasePath).jobs()
        if jobs.map(\.id) != job || jobs.first?.state != "queued" { tally.fail("\(fault): the queued job did not survive the forced quit: \(jobs)") }
    }

    // MARK: logind

    /// logind absent when the agent starts; then started, killed and restarted: the agent holds
    /// a delay lock each time logind is back.
    static func logindFaults(restarts: Int, tally: inout Tally) async throws {
        let rig = try await LogindRig()
        try await rig.stopLogind()
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, systemBusAddress: rig.bus.address, owner: session)
        let agent = try await harness.start()
        if !harness.log.contains("logind") { tally.fail("the agent did not say it runs without logind: \(harness.log)") }
        for round in 0...restarts {
            try await rig.restartLogind()
            do {
                try await eventually("the agent's delay lock in logind's ListInhibitors", limit: .seconds(10)) {
                    try await Self.holdsDelayLock(rig, pid: agent.pid)
                }
            } catch {
                tally.fail("logind \(round == 0 ? "appearing" : "restarted (\(round))"): \(error)")
            }
        }
        let quit = try await harness.ctl(["quit"])
        let exit = await agent.exitStatus()
        if quit.status != 0 || exit != 0 { tally.fail("the quit after logind's restarts was not clean: \(quit.error)") }
    }

    static func holdsDelayLock(_ rig: LogindRig, pid: Int32) async throws -> Bool {
        let reply = try await rig.connection.call(try DBusMessage.methodCall(
            destination: LogindManager.busName, path: "/org/freedesktop/login1", interface: "org.freedesktop.login1.Manager",
            member: "ListInhibitors"))
        return (try reply.arguments().first?.array ?? []).contains { inhibitor in
            guard let fields = inhibitor.fields, fields.count == 6 else { return false }
            return fields[1].string == "Quiesce" && fields[3].string == "delay" && fields[5].uint32 == UInt32(pid)
        }
    }

    // MARK: The session bus

    /// The session bus killed while copies run: the agent stops within its hard deadline (stop
    /// timeout 2 s + 2 s), the database is whole, and the next start finishes the copies.
    static func sessionBusKilled(tally: inout Tally) async throws {
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let nas = harness.home.file("nas")
        mkdir(nas, 0o755)
        let pool = SourcePool(directory: harness.home.file("sources"), count: 6, seed: 7, largeBytes: 8 << 20)
        let arguments = ["--nas-root", nas, "--db", harness.databasePath]
        let agent = try await harness.start(arguments)
        var ledger = Ledger()
        // Three rounds of the pool (three 8 MiB files among them): copies are still running when the
        // kill lands, however fast this machine's disk is at the moment.
        let big = Array(repeating: pool.files.enumerated().filter { $0.offset % 20 == 0 }.map(\.element) + pool.files, count: 3).joined()
        // Queued while sync is paused, then all let go at once: under load the one-by-one enqueues
        // were slow enough for every copy to finish before the first look (a flake of make test).
        _ = try await harness.call(.pauseSync)
        for (index, source) in big.enumerated() {
            let ids = jobIDs(try await harness.call(.enqueue, [.strings([source]), .string("b\(index)"), .vardict([:])]))
            ledger.acknowledged(ids, sources: [source], destination: "b\(index)")
        }
        _ = try await harness.call(.resumeSync)
        try await eventually("a copy in flight") { try await harness.property(.inFlightJobs) != .uint32(0) }
        let killed = ContinuousClock.now
        kill(bus.pid, SIGKILL)
        let status = await agent.exitStatus()
        let took = ContinuousClock.now - killed
        let hardDeadline = Duration.seconds(4)
        if took > hardDeadline + .seconds(1) { tally.fail("agentd took \(took) to exit after its bus died (hard deadline \(hardDeadline))") }
        if status == 0 || status == 1 { tally.fail("agentd exited \(status) after its bus died; expected a forced stop (3)") }
        tally.figures.append("\(milliseconds(took))")
        try ledger.check(database: harness.databasePath, nas: nas, tally: &tally, at: "after the bus died")

        // A new bus, as after logging in again: the copies resume and complete.
        let again = try PrivateBus()
        let next = try await AgentHarness(busAddress: again.address, owner: again)
        let agent2 = try await next.start(arguments)
        try await eventually("the queue drained after the restart", limit: .seconds(60)) {
            try await next.queueSettled()
        }
        _ = try await next.ctl(["quit"])
        _ = await agent2.exitStatus()
        let rows = try ledger.check(database: harness.databasePath, nas: nas, tally: &tally, at: "after the restart")
        if rows.contains(where: { $0.state != "done" }) || !ledger.allVerified { tally.fail("not every copy completed after the restart") }
        if !PartialFile.all(under: nas).isEmpty { tally.fail("partial files left after the restart") }
    }

    // MARK: The NAS

    enum NASFault: CaseIterable {
        case full, readOnly, removed
    }

    /// Copies running when the NAS fills up, turns read-only, or disappears: the jobs stay (queued,
    /// with the reason: in the failed job for a full or read-only NAS; in `SyncWaiting` for a root
    /// that is gone, which the worker waits for without counting attempts), no partial file is left
    /// once the NAS is back, and every copy completes by the agent's own retries.
    static func nasFault(_ fault: NASFault, tally: inout Tally) async throws {
        guard canMount else { throw PeerMissing(what: "root, to mount a tmpfs as the NAS (run as root)") }
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let mount = try TmpfsMount(kilobytes: fault == .full ? 6 * 1024 : 96 * 1024)
        let nas = fault == .removed ? harness.home.file("nas") : mount.path
        mkdir(nas, 0o755)
        let pool = SourcePool(directory: harness.home.file("sources"), count: 6, seed: 11, largeBytes: 4 << 20)
        // Read-only: one copier, so that there are moments between two files when nothing on the
        // NAS is open for writing (the kernel refuses to remount read-only otherwise).
        let agent = try await harness.start(["--nas-root", nas, "--sync-concurrency", fault == .readOnly ? "1" : "2"])
        var ledger = Ledger()
        let sources = pool.files.enumerated().filter { $0.offset % 20 == 0 }.map(\.element) + pool.files.prefix(4)
        var enqueued: [UInt64] = []
        // Enough copies that some are still waiting when the fault strikes.
        let repeats = fault == .full ? 2 : 8
        // Queued while paused and let go at once, so the copies are still running when the fault
        // is looked for, however slow the enqueues are under load.
        _ = try await harness.call(.pauseSync)
        for (index, source) in Array(repeating: sources, count: repeats).joined().enumerated() {
            let ids = jobIDs(try await harness.call(.enqueue, [.strings([source]), .string("f\(index)"), .vardict([:])]))
            ledger.acknowledged(ids, sources: [source], destination: "f\(index)")
            enqueued += ids
        }
        _ = try await harness.call(.resumeSync)
        var removedDone: Set<UInt64> = []
        switch fault {
        case .full:
            break  // 6 MiB for about 20 MiB of copies
        case .readOnly:
            try await eventually("a copy in flight") { try await harness.property(.inFlightJobs) != .uint32(0) }
            // The kernel refuses to make a mount read-only while a file on it is open for writing:
            // keep trying until it takes, between two writes.
            try await eventually("the NAS remounted read-only", limit: .seconds(20)) { (try? mount.remount("ro")) != nil }
        case .removed:
            try await eventually("a copy in flight") { try await harness.property(.inFlightJobs) != .uint32(0) }
            // Gone at once (a rename), then deleted: `rm -rf` alone races the agent's mkdir of the
            // next destination and can leave the root in place.
            shell("mv '\(nas)' '\(nas).gone' && rm -rf '\(nas).gone'")
            // What had completed is gone with the directory (the user's doing); what had not must come back.
            try await Task.sleep(for: .milliseconds(300))
            removedDone = Set(try await Self.jobs(harness).filter { $0.value.state == "done" }.keys)
            // The copies may all have finished before the root went: these are queued while it is
            // gone, so some jobs wait for it however fast the disk was.
            for (index, source) in sources.enumerated() {
                let ids = jobIDs(try await harness.call(.enqueue, [.strings([source]), .string("later\(index)"), .vardict([:])]))
                ledger.acknowledged(ids, sources: [source], destination: "later\(index)")
                enqueued += ids
            }
        }
        // The fault shows: copies fail, jobs wait with the reason, nothing runs, nothing partial stays.
        do {
            try await eventually("copies failing with the reason kept", limit: .seconds(30)) {
                let jobs = try await Self.jobs(harness)
                let idle = try await harness.property(.inFlightJobs) == .uint32(0)
                guard fault == .removed else { return idle && jobs.values.contains { !$0.error.isEmpty && $0.state == "queued" } }
                let waiting = try await harness.property(.syncWaiting)?.string ?? ""
                return idle && waiting.contains("is the NAS mounted?") && jobs.values.contains { $0.state == "queued" }
            }
        } catch {
            tally.fail("\(fault): \(error); jobs: \(try await Self.jobs(harness))")
        }
        let waiting = try await Self.jobs(harness)
        if waiting.count != enqueued.count { tally.fail("\(fault): \(enqueued.count) jobs queued, \(waiting.count) listed") }
        if waiting.values.contains(where: { $0.state == "failed" || $0.state == "cancelled" }) { tally.fail("\(fault): a job was given up") }
        if fault != .readOnly, !PartialFile.all(under: nas).isEmpty { tally.fail("\(fault): partial files left after failed copies") }
        if fault == .removed {
            // The root is gone, not the jobs' fault: waiting for it counts no attempt.
            let rows = try await harness.call(.listJobs, [.vardict(["limit": .uint32(10_000)])]).first?.array ?? []
            let counted = rows.compactMap(\.fields).filter { $0.count == 9 && $0[3].string == "queued" && $0[4].uint32 != 0 }
            if !counted.isEmpty { tally.fail("removed: \(counted.count) queued jobs counted attempts while the root was gone") }
        }

        // The NAS is back: the agent retries by itself (backoff from 2 s) and completes everything.
        switch fault {
        case .full: try mount.remount("size=96m")
        case .readOnly: try mount.remount("rw")
        case .removed: mkdir(nas, 0o755)
        }
        do {
            try await eventually("every copy completed after the NAS came back", limit: .seconds(90)) {
                try await Self.jobs(harness).values.allSatisfy { $0.state == "done" }
            }
        } catch {
            tally.fail("\(fault): \(error); jobs: \(try await Self.jobs(harness))")
        }
        _ = try await harness.ctl(["quit"])
        if await agent.exitStatus() != 0 { tally.fail("\(fault): the quit was not clean") }
        let probe = try DatabaseProbe(path: harness.databasePath)
        if try probe.integrity() != "ok" { tally.fail("\(fault): integrity_check failed") }
        for job in try probe.jobs() where !removedDone.contains(job.id) {
            if !sameContents(job.source, "\(nas)/\(job.target)") {
                tally.lost += 1
                tally.fail("\(fault): job \(job.id) done but \(job.target) differs from its source")
            }
        }
        if !PartialFile.all(under: nas).isEmpty { tally.fail("\(fault): partial files left at the end") }
        if Set(try probe.jobs().map(\.id)) != Set(enqueued) {
            tally.lost += 1
            tally.fail("\(fault): the jobs in the database are not the jobs acknowledged")
        }
    }

    /// Every job by id: state and last error.
    static func jobs(_ harness: AgentHarness) async throws -> [UInt64: (state: String, error: String)] {
        let rows = try await harness.call(.listJobs, [.vardict(["limit": .uint32(10_000)])]).first?.array ?? []
        var jobs: [UInt64: (state: String, error: String)] = [:]
        for row in rows {
            guard let fields = row.fields, fields.count == 9, let id = fields[0].uint64 else { continue }
            jobs[id] = (fields[3].string ?? "", fields[5].string ?? "")
        }
        return jobs
    }

    // MARK: The database

    /// Another process holds the database when the agent starts: exit 1 with "in use"; once it
    /// lets go, the agent starts and everything acknowledged before is there.
    static func databaseLocked(tally: inout Tally) async throws {
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        var agent = try await harness.start()
        let ids = jobIDs(try await harness.call(.enqueue, [.strings(["/etc/hostname"]), .string("before"), .vardict([:])]))
        _ = try await harness.ctl(["quit"])
        _ = await agent.exitStatus()
        // --close: flock itself holds the lock (not the sleep it runs), so stopping it lets go.
        let holder = try PeerProcess("/usr/bin/flock", ["--exclusive", "--close", harness.databasePath + ".lock", "sleep", "60"])
        try await eventually("flock holding the lock") { lockHeld(harness.databasePath + ".lock") }
        agent = try await harness.start(waitUntilRunning: false)
        let status = await agent.exitStatus()
        if status != 1 { tally.fail("locked database: agentd exited \(status), expected 1") }
        if !harness.log.contains("in use by process \(holder.pid)") { tally.fail("locked database: the log does not say the database is in use: \(harness.log.suffix(800))") }
        holder.stop()
        agent = try await harness.start()
        let listed = try await Self.jobs(harness)
        if Set(listed.keys) != Set(ids) {
            tally.lost += 1
            tally.fail("locked database: after the holder let go, the jobs are \(listed.keys.sorted()), expected \(ids)")
        }
        _ = try await harness.ctl(["quit"])
        _ = await agent.exitStatus()
    }

    /// The disk under the database fills up: calls that would write get StorageFailed saying so,
    /// the agent stays up, nothing acknowledged is lost, and once there is room it carries on.
    static func databaseDiskFull(tally: inout Tally) async throws {
        guard canMount else { throw PeerMissing(what: "root, to mount a small tmpfs for the database (run as root)") }
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let mount = try TmpfsMount(kilobytes: 4096)
        let database = mount.path + "/state/agent.db"
        let agent = try await harness.start(["--db", database])
        var ledger = Ledger()
        let filler = mount.path + "/filler"
        fillDisk(filler)
        var refusal: DBusError?
        for index in 0..<5_000 where refusal == nil {
            do throws(DBusError) {
                let ids = jobIDs(try await harness.call(.enqueue, [.strings(["/etc/hostname"]), .string("d\(index)"), .vardict([:])]))
                ledger.acknowledged(ids, sources: ["/etc/hostname"], destination: "d\(index)")
            } catch {
                refusal = error
            }
        }
        guard let refusal else { return tally.fail("disk full: 5,000 enqueues all succeeded on a full disk") }
        if refusal.name.rawValue != "io.github.quiesce.Error.StorageFailed" || !refusal.message.contains("full") {
            tally.fail("disk full: Enqueue answered \(refusal), expected StorageFailed saying the disk is full")
        }
        do throws(DBusError) {
            _ = try await harness.call(.openSession, [.string("on a full disk"), .vardict(["bind": .boolean(false)])])
        } catch where error.name.rawValue == "io.github.quiesce.Error.StorageFailed" {
        } catch {
            tally.fail("disk full: OpenSession answered \(error)")
        }
        let state = try await harness.property(.state)
        if !agent.isRunning || state != .string("running") { tally.fail("disk full: the agent did not stay up") }
        unlink(filler)
        do {
            let ids = jobIDs(try await harness.call(.enqueue, [.strings(["/etc/hostname"]), .string("after"), .vardict([:])]))
            ledger.acknowledged(ids, sources: ["/etc/hostname"], destination: "after")
        } catch {
            tally.fail("disk full: Enqueue after space was freed: \(error)")
        }
        let quit = try await harness.ctl(["quit"])
        let exit = await agent.exitStatus()
        if quit.status != 0 || exit != 0 { tally.fail("disk full: the quit afterwards was not clean: \(quit.error)") }
        try ledger.check(database: database, nas: "/nonexistent", tally: &tally, at: "after the disk was full")
    }
}

/// A duration in whole milliseconds, for figures.
func milliseconds(_ duration: Duration) -> Int {
    Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
}

/// Writes `path` until the filesystem has no room left.
func fillDisk(_ path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let chunk = [UInt8](repeating: 0x5A, count: 64 << 10)
    for size in [64 << 10, 4 << 10, 512] {
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, size) }) == size {}
    }
    fsync(fd)
}

/// Whether someone holds an exclusive flock on `path`.
func lockHeld(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    if flock(fd, LOCK_EX | LOCK_NB) == 0 {
        flock(fd, LOCK_UN)
        return false
    }
    return true
}
