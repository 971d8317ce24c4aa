import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceStore
import QuiesceTestSupport
import Testing

/// Start failures, reloads and strangers, through the real binaries.
@Suite("agentd: start, reload, access")
struct AgentLifecycleTests {
    @Test("SIGHUP re-reads the file: new windows apply; a bad file changes nothing and says why")
    func reload() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        let file = harness.home.file("agent.yaml")
        try "shutdown:\n  quit_timeout: 30\n".write(toFile: file, atomically: true, encoding: .utf8)
        let agent = try await harness.start(["--config", file])

        try "shutdown:\n  quit_timeout: soon\n".write(toFile: file, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        try await eventually("the bad reload reported") { harness.log.contains("configuration not reloaded") }
        #expect(harness.log.contains("shutdown.quit_timeout"), "the message names the key: \(harness.log)")

        try "shutdown:\n  quit_timeout: 0.25\n".write(toFile: file, atomically: true, encoding: .utf8)
        agent.signal(SIGHUP)
        try await eventually("the reload reported") { harness.log.contains("configuration reloaded") }
        _ = try await harness.call(.openSession, [.string("work"), .vardict(["bind": .boolean(false)])])
        _ = try await harness.ctl(["quit", "--no-wait"])
        try await eventually("the drain logged") { harness.log.contains("because quit request") }
        #expect(harness.log.contains("because quit request; 0.25 s left"), "\(harness.log)")
        _ = try await harness.ctl(["quit", "--force"])
        #expect(await agent.exitStatus() == 3)
    }

    @Test("a damaged database: exit 1 saying what happened; the file is moved aside, not deleted")
    func corruptDatabase() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        try FileManager.default.createDirectory(atPath: harness.home.file("state/quiesce"), withIntermediateDirectories: true)
        try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: harness.databasePath))
        let agent = try await harness.start(waitUntilRunning: false)
        #expect(await agent.exitStatus() == 1)
        #expect(harness.log.contains("is damaged"), "\(harness.log)")
        let moved = try FileManager.default.contentsOfDirectory(atPath: harness.home.file("state/quiesce")).filter { $0.hasPrefix("agent.db.corrupt-") }
        #expect(moved.count == 1)
        #expect(try await session.nameOwnerless(), "nothing was left on the bus")
    }

    @Test("a database damaged after a clean stop (not checked at open): exit 1 saying what happened; the file is moved aside")
    func damagedAfterACleanStop() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        do {
            let store = try Store(path: harness.databasePath)
            _ = try store.enqueue(sources: (0..<5000).map { "/data/folder/file-\($0).bin" }, destination: "backup")
            try store.checkpoint()
        }
        #expect(!FileManager.default.fileExists(atPath: harness.databasePath + "-wal"), "a clean close")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: harness.databasePath))
        for index in 16384..<(bytes.count - 4096) { bytes[index] = 0xA5 }
        try bytes.write(to: URL(fileURLWithPath: harness.databasePath))
        let agent = try await harness.start(waitUntilRunning: false)
        #expect(await agent.exitStatus() == 1)
        #expect(harness.log.contains("is damaged"), "\(harness.log)")
        let moved = try FileManager.default.contentsOfDirectory(atPath: harness.home.file("state/quiesce")).filter { $0.hasPrefix("agent.db.corrupt-") }
        #expect(moved.count == 1)
        #expect(!FileManager.default.fileExists(atPath: harness.databasePath))
        #expect(try await session.nameOwnerless(), "nothing was left on the bus")
    }

    @Test("an agent that has served calls, slept and copied runs only threads of its own: libdispatch's pool (which wakes an idle process every second) never starts")
    func noLibdispatchThreads() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        let agent = try await harness.start()
        let id = try await harness.call(.openSession, [.string("work"), .vardict(["bind": .boolean(false)])])
        _ = try await harness.ctl(["status"])
        _ = try await harness.ctl(["quit", "--no-wait"])
        // A drain with its window and timers running, then the session closed: it stops clean.
        try await eventually("the drain began") { harness.log.contains("because quit request") }
        let names = try threadNames(agent.pid)
        #expect(!names.isEmpty)
        let strangers = names.filter { $0 != "agentd" && !$0.hasPrefix("quiesce-") }
        #expect(strangers.isEmpty, "threads not of ours: \(strangers) (all: \(names))")
        _ = try await harness.call(.closeSession, [id[0]])
        #expect(await agent.exitStatus() == 0)
    }

    /// The names of a process's threads, from /proc.
    private func threadNames(_ pid: Int32) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").compactMap { task in
            try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    @Test("OpenSession the moment the agent takes its name (as a D-Bus-activated call arrives) is admitted, not refused as shutting down")
    func openSessionAsTheNameIsTaken() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        let owners = try await harness.control.nameOwnerChanges(of: AgentInterface.busName)
        let agent = try await harness.start(waitUntilRunning: false)
        for await change in owners where !change.newOwner.isEmpty { break }
        let id = try await harness.call(.openSession, [.string("early"), .vardict(["bind": .boolean(false)])])
        #expect(id.first?.string?.isEmpty == false, "the session was opened")
        _ = try await harness.ctl(["quit", "--force"])
        #expect(await agent.exitStatus() == 3, "the early session held the quit until forced")
    }

    @Test("the agent's name goes only once its database is free: a client starting the next agent as it sees the name go finds it unlocked")
    func nameGoesAfterTheDatabase() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        // A few quits: before the fix the name went before the database closed, a window of
        // 0.3 ms or more that the first look, as the signal comes, falls in most times.
        for round in 0..<5 {
            let owners = try await harness.control.nameOwnerChanges(of: AgentInterface.busName)
            let agent = try await harness.start()
            _ = try await harness.call(.quit, [.vardict([:])])
            for await change in owners where change.newOwner.isEmpty { break }
            let lock = open(harness.databasePath + ".lock", O_RDWR | O_CLOEXEC)
            #expect(lock >= 0, "the lock file is there")
            let locked = flock(lock, LOCK_EX | LOCK_NB) != 0
            close(lock)
            #expect(!locked, "round \(round): the name was gone while the agent still held its database")
            #expect(await agent.exitStatus() == 0)
        }
    }

    @Test("the database locked by another process: exit 1 saying so, and nothing on the bus")
    func databaseLocked() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        try FileManager.default.createDirectory(atPath: harness.home.file("state/quiesce"), withIntermediateDirectories: true)
        let holder = try PeerProcess("/usr/bin/flock", [harness.databasePath + ".lock", "/bin/sleep", "30"])
        try await eventually("the other process holding the lock") {
            let probe = try await run("/usr/bin/flock", ["-n", harness.databasePath + ".lock", "/bin/true"])
            return probe.status != 0
        }
        let agent = try await harness.start(waitUntilRunning: false)
        #expect(await agent.exitStatus() == 1)
        #expect(harness.log.contains("is in use"), "\(harness.log)")
        #expect(try await session.nameOwnerless())
        holder.stop()
    }

    @Test("a bad setting: exit 1 naming the key")
    func badSetting() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        let agent = try await harness.start(["--sync-concurrency", "many"], waitUntilRunning: false)
        #expect(await agent.exitStatus() == 1)
        #expect(harness.log.contains("sync.concurrency"), "\(harness.log)")
    }
}

extension PrivateBus {
    /// Whether no agent owns its name on this bus.
    func nameOwnerless() async throws -> Bool {
        let control = try await BusConnection.open(address: address)
        defer { control.close() }
        return try await control.nameOwner(AgentInterface.busName) == nil
    }
}
