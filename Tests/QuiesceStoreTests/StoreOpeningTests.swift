import Glibc
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

    @Test("a database whose pages are damaged fails integrity_check and is moved aside")
    func damagedPagesAreDetected() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        do {
            let store = try Store(path: path)
            _ = try store.enqueue(sources: (0..<2000).map { "/data/file-\($0).bin" }, destination: "backup")
            try store.checkpoint()
        }
        // Overwrite the middle of the file: the header stays valid, the b-tree pages do not.
        var bytes = try #require(readFile(path))
        #expect(bytes.count > 16384)
        for index in 8192..<(bytes.count - 4096) { bytes[index] = 0xA5 }
        writeFile(path, bytes)
        #expect {
            _ = try Store(path: path)
        } throws: { error in
            if case .corrupt = error as? StoreError { true } else { false }
        }
        #expect(!exists(path))
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
