import Glibc
import QuiesceThreads
import Synchronization
@testable import QuiesceStore
import QuiesceTestSupport
import Testing

@Suite("Opening the store")
struct StoreOpeningTests {
    @Test("a new database is created 0600 in a 0700 directory, in WAL mode with synchronous=FULL")
    func createsPrivateFiles() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("state/quiesce/agent.db")
        let store = try Store(path: path)
        #expect(mode(of: temp.file("state/quiesce")) == 0o700)
        #expect(mode(of: temp.file("state")) == 0o700)
        #expect(mode(of: path) == 0o600)
        #expect(try store.write { try $0.pragma("journal_mode") } == "wal")
        #expect(try store.write { try $0.pragma("synchronous") } == "2", "2 is FULL")
        #expect(try store.write { try $0.pragma("user_version") } == "\(Migrations.latest)")
        _ = try store.enqueue(sources: ["/etc/hostname"], destination: "")
        #expect(mode(of: path + "-wal") == 0o600, "SQLite gives the WAL the database's mode")
    }

    @Test("an existing directory with wider permissions is made private")
    func tightensTheDirectory() throws {
        let temp = TemporaryDirectory()
        mkdir(temp.file("q"), 0o755)
        chmod(temp.file("q"), 0o755)
        _ = try Store(path: temp.file("q/agent.db"))
        #expect(mode(of: temp.file("q")) == 0o700)
    }

    @Test("a second process on the same database is refused, naming the pid that holds it")
    func secondOpenIsRefused() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        let first = try Store(path: path)
        #expect(throws: StoreError.lockedByAnotherProcess(path: path + ".lock", pid: getpid())) {
            _ = try Store(path: path)
        }
        _ = first
    }

    @Test("the lock file holds exactly our pid, over a longer one a previous owner left")
    func lockFileHoldsThePID() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        // Written over, not truncated first (see LockFile.init): what was longer must still go.
        writeFile(path + ".lock", Array("4194304999\nleft over\n".utf8))
        let store = try Store(path: path)
        #expect(readFile(path + ".lock").map { String(decoding: $0, as: UTF8.self) } == "\(getpid())\n")
        store.close()
    }

    @Test("a damaged database is moved aside, start fails saying so, and nothing is recreated")
    func corruptDatabaseIsMovedAside() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        let garbage = Array("this is not an SQLite database, just bytes that look like nothing".utf8) + [UInt8](repeating: 7, count: 4096)
        writeFile(path, garbage)
        var thrown: StoreError?
        do { _ = try Store(path: path) } catch { thrown = error }
        guard case .corrupt(let reported, let movedTo, _) = thrown else {
            Issue.record("expected .corrupt, got \(String(describing: thrown))")
            return
        }
        #expect(reported == path)
        #expect(movedTo.hasPrefix(path + ".corrupt-"))
        let kept = readFile(movedTo) == garbage
        #expect(kept, "the damaged file is kept byte for byte")
        #expect(!exists(path), "no fresh database was made in its place")
        #expect(thrown?.description.contains("moved aside to \(movedTo)") == true)
    }

    /// A store with 2,000 jobs, checkpointed; returns its path.
    private func filledStore(_ temp: TemporaryDirectory, closing: Bool) throws -> (path: String, open: Store?) {
        let path = temp.file("agent.db")
        let store = try Store(path: path)
        _ = try store.enqueue(sources: (0..<2000).map { "/data/file-\($0).bin" }, destination: "backup")
        try store.checkpoint()
        if closing { return (path, nil) }
        return (path, store)
    }

    /// Overwrites the middle of the file: the header stays valid, the b-tree pages do not.
    private func damagePages(_ path: String) throws {
        var bytes = try #require(readFile(path))
        #expect(bytes.count > 16384)
        for index in 8192..<(bytes.count - 4096) { bytes[index] = 0xA5 }
        writeFile(path, bytes)
    }

    @Test("after an unclean stop (its log left behind) damaged pages fail integrity_check at open and the file is moved aside")
    func damagedPagesAreDetectedAfterACrash() throws {
        let temp = TemporaryDirectory()
        let (path, open) = try filledStore(temp, closing: false)
        // A crash image: the file and its (checkpointed, empty) log as a killed agent leaves them.
        let crashed = temp.file("crashed.db")
        writeFile(crashed, try #require(readFile(path)))
        writeFile(crashed + "-wal", try #require(readFile(path + "-wal")))
        _ = open
        try damagePages(crashed)
        #expect {
            _ = try Store(path: crashed)
        } throws: { error in
            if case .corrupt = error as? StoreError { true } else { false }
        }
        #expect(!exists(crashed))
    }

    @Test("after a clean close the start does not read the whole file; the background check finds damaged pages, closes the store and moves the file aside")
    func damagedPagesAreDetectedInTheBackground() async throws {
        let temp = TemporaryDirectory()
        let (path, _) = try filledStore(temp, closing: true)
        #expect(!exists(path + "-wal"), "SQLite removed the log at the clean close")
        try damagePages(path)
        let store = try Store(path: path)
        #expect(!store.checkedAtOpen)
        let found: StoreError = await withCheckedContinuation { continuation in
            store.backgroundCheck.withLock { $0.policy = SCHED_OTHER }  // see BackgroundCheck.policy
            store.verifyInBackground { error in continuation.resume(returning: error) }
        }
        guard case .corrupt(let reported, let movedTo, let detail) = found else {
            Issue.record("expected .corrupt, got \(found)")
            return
        }
        #expect(reported == path)
        #expect(!detail.isEmpty)
        #expect(!exists(path), "moved aside")
        #expect(exists(movedTo))
        #expect(throws: StoreError.closed) { try store.jobCounts() }
    }

    @Test("a sound file passes the background check and the store stays usable")
    func soundFilePassesTheBackgroundCheck() async throws {
        let temp = TemporaryDirectory()
        let (path, _) = try filledStore(temp, closing: true)
        let store = try Store(path: path)
        #expect(!store.checkedAtOpen)
        store.backgroundCheck.withLock { $0.policy = SCHED_OTHER }  // see BackgroundCheck.policy
        store.verifyInBackground { error in Issue.record("a sound file reported damaged: \(error)") }
        // The check is interrupted by a checkpoint and started again; it must still end.
        try store.checkpoint()
        try await eventually("the background check finished") { !store.backgroundCheckPending }
        #expect(try store.jobCounts().queued == 2000)
        #expect(exists(path))
    }

    @Test("a close while the background check reads leaves no log behind, so the next start is not taken for a crash")
    func closeDuringTheCheckIsClean() async throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        do {
            let store = try Store(path: path)
            _ = try store.enqueue(files: (0..<200_000).map { (source: "/data/some/folder/file-\($0).bin", destination: "backup/\($0 / 1000)") })
        }
        do {
            let store = try Store(path: path)
            store.backgroundCheck.withLock { $0.policy = SCHED_OTHER }  // see BackgroundCheck.policy
            store.verifyInBackground { error in Issue.record("a sound file reported damaged: \(error)") }
            // Watched from a thread of its own, not a task: under a full test run the tasks'
            // threads can be busy with other suites for longer than the check reads.
            let seen = await DetachedThread.run(name: "test-watch-check") { () -> Bool in
                for _ in 0..<20_000 where !store.backgroundCheckReading { usleep(1000) }
                guard store.backgroundCheckReading else { return false }
                store.close()
                return true
            }
            try #require(seen, "never saw the check reading within 20 s")
        }
        #expect(!exists(path + "-wal"), "the agent's connection was the last one: SQLite removed the log")
        #expect(try !Store(path: path).checkedAtOpen)
    }

    @Test("a crash image is checked at open; a clean close is not")
    func whenTheFullCheckRuns() throws {
        let temp = TemporaryDirectory()
        let crashed = temp.file("crashed.db")
        let path: String
        do {
            let (filled, open) = try filledStore(temp, closing: false)
            path = filled
            writeFile(crashed, try #require(readFile(path)))
            writeFile(crashed + "-wal", try #require(readFile(path + "-wal")))
            _ = open
        }
        #expect(try Store(path: crashed).checkedAtOpen)
        #expect(try !Store(path: path).checkedAtOpen)
    }

    @Test("an older schema is migrated forward and keeps its rows")
    func migratesFromAnOlderSchema() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        do {
            let database = try Database(path: path, create: true)
            try Migrations.migrate(database, upTo: 1)
            try database.execute(
                "INSERT INTO jobs (source, destination, state, enqueued_at, updated_at) VALUES ('/home/u/a.txt', 'docs', 'queued', 1, 1)")
            try database.execute(
                "INSERT INTO sessions (id, label, bound, owner_uid, owner_pid, instance, opened_at) VALUES ('s1', 'old', 0, 1000, 1, 'old-run', 1)")
            #expect(try database.pragma("user_version") == "1")
        }
        let store = try Store(path: path)
        #expect(try store.write { try $0.pragma("user_version") } == "\(Migrations.latest)")
        let jobs = try store.jobs()
        #expect(jobs.map(\.source) == ["/home/u/a.txt"])
        #expect(jobs.first?.checksum == nil)
        #expect(try store.openSessions().map(\.id) == ["s1"])
        let claimed = try store.claim(limit: 1)
        try store.complete(id: claimed[0].id, size: 3, checksum: "xxh64:0000000000000000")
        #expect(try store.job(id: claimed[0].id).size == 3, "the new columns work")
    }

    @Test("a schema newer than this build is refused and left untouched")
    func newerSchemaIsRefused() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        do {
            let database = try Database(path: path, create: true)
            try database.execute("PRAGMA user_version = 99")
        }
        let before = readFile(path)
        #expect(throws: StoreError.newerSchema(path: path, found: 99, supported: Migrations.latest)) {
            _ = try Store(path: path)
        }
        let untouched = readFile(path) == before
        #expect(untouched, "not a byte of the newer file changed")
    }
}

@Suite("Waiting for the background check's thread")
struct CheckThreadWaitTests {
    @Test("the wait stops at the first look that finds no thread, and gives up after its last look")
    func waitStopsAtOnce() {
        var pauses = 0
        // Before the fix the loop looked all 2,000 times, finding nothing each time.
        #expect(Store.wait(while: { false }, looks: 2000) { pauses += 1 } == 1)
        #expect(pauses == 0)
        var remaining = 3
        #expect(Store.wait(while: { remaining > 0 }, looks: 2000) { remaining -= 1; pauses += 1 } == 4)
        #expect(pauses == 3)
        #expect(Store.wait(while: { true }, looks: 5) { pauses += 1 } == 5, "bounded")
    }
}
