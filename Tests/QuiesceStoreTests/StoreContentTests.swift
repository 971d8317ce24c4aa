import Glibc
import Synchronization
@testable import QuiesceStore
import QuiesceTestSupport
import Testing

/// A wall clock the test moves by hand.
final class ManualWallClock: Sendable {
    private let value = Mutex<Int64>(1_700_000_000_000)
    var now: Int64 { value.withLock { $0 } }
    func advance(milliseconds: Int64) { value.withLock { $0 += milliseconds } }
    var function: @Sendable () -> Int64 { { self.now } }
}

@Suite("Sessions and the sync queue")
struct StoreContentTests {
    let owner = SessionOwner(uid: 1000, pid: 42, connection: ":1.7")

    @Test("sessions open, count, list and close; closing an unknown id is NotFound")
    func sessionLifecycle() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let a = try store.openSession(label: "recording", bound: true, owner: owner)
        let b = try store.openSession(label: "experiment", bound: false, owner: owner)
        #expect(try store.activeSessionCount() == 2)
        #expect(try store.openSessions().map(\.label) == ["recording", "experiment"])
        #expect(try store.closeSession(id: a.id).closeReason == .closed)
        #expect(try store.activeSessionCount() == 1)
        #expect(throws: StoreError.notFound(what: "open session \(a.id)")) { try store.closeSession(id: a.id) }
        #expect(throws: StoreError.notFound(what: "open session nope")) { try store.closeSession(id: "nope") }
        #expect(throws: StoreError.self) { try store.openSession(label: "", bound: false, owner: owner) }
        #expect(try store.closeSessions(boundTo: ":1.7").isEmpty, "b is not bound")
        _ = b
    }

    @Test("many clients leaving at once: their sessions close in one transaction (one commit in the WAL, not one each)")
    func departuresInOneTransaction() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let clients = (0..<50).map { ":1.\(100 + $0)" }
        for client in clients {
            _ = try store.openSession(label: "work of \(client)", bound: true, owner: SessionOwner(uid: 1000, pid: 42, connection: client))
        }
        try store.checkpoint()
        let closed = try store.closeSessions(boundToAny: clients)
        #expect(closed.count == 50)
        // wal_checkpoint(PASSIVE) answers: busy, frames in the WAL, frames checkpointed. One
        // transaction writes each page it touched once; fifty autocommits wrote them fifty times.
        let frames = try store.write { database in
            try database.statement("PRAGMA wal_checkpoint(PASSIVE)").rows { row in row.integer(1) }.first ?? -1
        }
        #expect(frames > 0 && frames < 50, "\(frames) WAL frames for one batch of 50 departures")
        #expect(try store.activeSessionCount() == 0)
    }

    @Test("a checkpoint with nothing in the log leaves the log alone: no truncate, whose time stamps wait on the journal")
    func emptyLogCheckpoint() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        _ = try store.openSession(label: "work", bound: false, owner: owner)
        try store.checkpoint()
        let log = temp.file("agent.db") + "-wal"
        var before = stat()
        #expect(stat(log, &before) == 0 && before.st_size == 0, "the first checkpoint emptied the log")
        // Its times set far back: a truncate would set them to now.
        let past = timespec(tv_sec: 1_000_000_000, tv_nsec: 0)
        var times = [past, past]
        #expect(utimensat(AT_FDCWD, log, &times, 0) == 0)
        try store.checkpoint()
        var after = stat()
        #expect(stat(log, &after) == 0)
        #expect(after.st_mtim.tv_sec == past.tv_sec, "the empty log was truncated again")
        // Something written: the next checkpoint moves it into the file as before.
        _ = try store.openSession(label: "more", bound: false, owner: owner)
        var written = stat()
        #expect(stat(log, &written) == 0 && written.st_size > 0)
        try store.checkpoint()
        var emptied = stat()
        #expect(stat(log, &emptied) == 0 && emptied.st_size == 0)
        #expect(try store.activeSessionCount() == 2)
    }

    @Test("a client leaving the bus closes its bound sessions only")
    func clientVanishing() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let bound = try store.openSession(label: "bound", bound: true, owner: owner)
        _ = try store.openSession(label: "unbound", bound: false, owner: owner)
        let other = try store.openSession(label: "other client", bound: true, owner: SessionOwner(uid: 1000, pid: 43, connection: ":1.8"))
        let closed = try store.closeSessions(boundTo: ":1.7")
        #expect(closed.map(\.id) == [bound.id])
        #expect(closed.first?.closeReason == .clientVanished)
        #expect(try store.openSessions().map(\.label).sorted() == ["other client", "unbound"])
        _ = other
    }

    @Test("at start, bound sessions of a dead run close as abandoned; unbound ones stay open")
    func abandonedSessionsAtStart() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        do {
            let crashed = try Store(path: path, instance: "crashed-run")
            _ = try crashed.openSession(label: "bound", bound: true, owner: owner)
            _ = try crashed.openSession(label: "unbound", bound: false, owner: owner)
        }
        let next = try Store(path: path, instance: "next-run")
        let abandoned = try next.closeAbandonedSessions()
        #expect(abandoned.map(\.label) == ["bound"])
        #expect(abandoned.first?.closeReason == .abandoned)
        #expect(try next.openSessions().map(\.label) == ["unbound"])
    }

    @Test("a batch is queued in one transaction; a bad destination or source queues nothing")
    func enqueueValidation() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let ids = try store.enqueue(sources: ["/a/1.txt", "/a/2.txt", "/a/3.txt"], destination: "./photos//2026/")
        #expect(ids.count == 3)
        #expect(Set(ids).count == 3)
        #expect(try store.jobs().map(\.destination) == ["photos/2026", "photos/2026", "photos/2026"])
        for bad in ["../outside", "a/../../b", "/etc"] {
            #expect(throws: StoreError.self) { try store.enqueue(sources: ["/a/4.txt"], destination: bad) }
        }
        #expect(throws: StoreError.self) { try store.enqueue(sources: ["/a/5.txt", "relative.txt"], destination: "x") }
        #expect(throws: StoreError.self) { try store.enqueue(sources: [], destination: "x") }
        #expect(try store.jobCounts().queued == 3, "nothing from the refused batches")
    }

    @Test("claims take a lease; a crashed run's in-flight jobs return to the queue at the next start")
    func leasesAndRecovery() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        do {
            let crashed = try Store(path: path, instance: "crashed")
            _ = try crashed.enqueue(sources: ["/a/1", "/a/2", "/a/3"], destination: "")
            #expect(try crashed.claim(limit: 2).map(\.state) == [.inFlight, .inFlight])
            #expect(try crashed.jobCounts().inFlight == 2)
        }
        let next = try Store(path: path, instance: "next")
        #expect(throws: StoreError.self, "another run's lease is not ours to complete") {
            try next.complete(id: 1, size: 1, checksum: "x")
        }
        let recovered = try next.recoverInterruptedJobs()
        #expect(recovered.map(\.id) == [1, 2])
        #expect(try next.jobCounts().queued == 3)
        #expect(try next.claim(limit: 10).map(\.id) == [1, 2, 3], "oldest first")
    }

    @Test("failures back off exponentially with jitter, capped, and give up into failed after the limit")
    func backoff() throws {
        let temp = TemporaryDirectory()
        let clock = ManualWallClock()
        let store = try Store(path: temp.file("agent.db"), now: clock.function)
        let policy = RetryPolicy(base: .seconds(2), cap: .seconds(10), maxAttempts: 5, random: { 0.5 })
        // factor = 0.5 + 0.5 × 0.5 = 0.75
        #expect(policy.delay(afterAttempts: 1) == .milliseconds(1500))
        #expect(policy.delay(afterAttempts: 2) == .milliseconds(3000))
        #expect(policy.delay(afterAttempts: 3) == .milliseconds(6000))
        #expect(policy.delay(afterAttempts: 4) == .milliseconds(7500), "capped at 10 s before the jitter")
        #expect(policy.delay(afterAttempts: 100) == .milliseconds(7500))
        #expect(RetryPolicy(random: { 0 }).delay(afterAttempts: 1) == .seconds(1))

        let id = try store.enqueue(sources: ["/a/1"], destination: "")[0]
        var expected: [Int64] = []
        for attempt in 1...4 {
            let claimed = try store.claim(limit: 1)
            #expect(claimed.map(\.id) == [id], "claimable again at attempt \(attempt)")
            let record = try store.recordFailure(id: id, error: "NAS root missing", retryable: true, policy: policy)
            #expect(record.state == .queued)
            #expect(record.attempts == attempt)
            #expect(record.lastError == "NAS root missing")
            expected.append(record.nextAttemptAt - clock.now)
            #expect(try store.claim(limit: 1).isEmpty, "not before its retry time")
            clock.advance(milliseconds: record.nextAttemptAt - clock.now)
        }
        #expect(expected == [1500, 3000, 6000, 7500])
        _ = try store.claim(limit: 1)
        let last = try store.recordFailure(id: id, error: "NAS root missing", retryable: true, policy: policy)
        #expect(last.state == .failed, "the fifth attempt was the last")
        #expect(last.lastError == "NAS root missing")
        try store.retry(id: id)
        #expect(try store.job(id: id).state == .queued)
    }

    @Test("an error retrying cannot fix fails the job at once, and it is kept")
    func permanentFailure() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let id = try store.enqueue(sources: ["/a/1"], destination: "")[0]
        _ = try store.claim(limit: 1)
        let record = try store.recordFailure(id: id, error: "escapes the NAS root", retryable: false, policy: RetryPolicy())
        #expect(record.state == .failed)
        #expect(try store.jobs(states: [.failed]).map(\.id) == [id])
    }

    @Test("retry and cancel apply only where they make sense")
    func retryAndCancel() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let ids = try store.enqueue(sources: ["/a/1", "/a/2"], destination: "")
        try store.cancel(id: ids[0])
        #expect(try store.job(id: ids[0]).state == .cancelled)
        #expect(throws: StoreError.self) { try store.cancel(id: ids[0]) }
        try store.retry(id: ids[0])
        #expect(try store.job(id: ids[0]).state == .queued)
        _ = try store.claim(limit: 2)
        #expect(throws: StoreError.self, "a job being copied is not cancelled under the worker") { try store.cancel(id: ids[1]) }
        #expect(throws: StoreError.notFound(what: "job 999")) { try store.job(id: 999) }
    }

    @Test("an aborted copy goes back to the queue without counting an attempt")
    func requeueAfterForce() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let id = try store.enqueue(sources: ["/a/1"], destination: "")[0]
        _ = try store.claim(limit: 1)
        try store.requeue(id: id)
        let record = try store.job(id: id)
        #expect(record.state == .queued)
        #expect(record.attempts == 0)
    }

    @Test("done and cancelled jobs are pruned after the retention period; failed ones are kept")
    func pruning() throws {
        let temp = TemporaryDirectory()
        let clock = ManualWallClock()
        let store = try Store(path: temp.file("agent.db"), now: clock.function)
        let ids = try store.enqueue(sources: ["/a/1", "/a/2", "/a/3", "/a/4"], destination: "")
        _ = try store.claim(limit: 2)
        try store.complete(id: ids[0], size: 1, checksum: "c")
        _ = try store.recordFailure(id: ids[1], error: "e", retryable: false, policy: RetryPolicy())
        try store.cancel(id: ids[2])
        clock.advance(milliseconds: 10_000)
        #expect(try store.pruneFinished(olderThan: .seconds(60)) == 0, "nothing old enough yet")
        #expect(try store.pruneFinished(olderThan: .seconds(5)) == 2)
        #expect(try store.jobs().map(\.id) == [ids[1], ids[3]])
    }

    /// The counts as a full scan sees them, to hold the kept counts against.
    private func scannedCounts(_ store: Store) throws -> JobCounts {
        try store.write { database in try Store.counts(database, "SELECT state, count(*) FROM jobs GROUP BY state") }
    }

    @Test("the kept job counts agree with a full count after every kind of change, and across a crash")
    func keptCountsAgree() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        let clock = ManualWallClock()
        do {
            let crashed = try Store(path: path, instance: "crashed", now: clock.function)
            _ = try crashed.enqueue(sources: (0..<10).map { "/a/\($0)" }, destination: "")
            _ = try crashed.claim(limit: 3)
            #expect(try crashed.jobCounts() == scannedCounts(crashed))
        }
        let store = try Store(path: path, instance: "next", now: clock.function)
        #expect(try store.recoverInterruptedJobs().count == 3)
        var expected = try scannedCounts(store)
        #expect(try store.jobCounts() == expected)
        #expect(expected.queued == 10)
        let ids = try store.enqueue(files: [("/b/1", "x"), ("/b/2", "y/z")])
        let claimed = try store.claim(limit: 6).map(\.id)
        try store.complete(id: claimed[0], size: 1, checksum: "c")
        try store.complete(id: claimed[1], size: 1, checksum: "c", outcome: "identical")
        _ = try store.recordFailure(id: claimed[2], error: "e", retryable: false, policy: RetryPolicy())
        _ = try store.recordFailure(id: claimed[3], error: "e", retryable: true, policy: RetryPolicy())
        try store.requeue(id: claimed[4])
        try store.postpone(id: claimed[5], reason: "NAS away")
        try store.cancel(id: ids[0])
        try store.retry(id: claimed[2])
        try store.retry(id: ids[1])  // queued already: no change of state
        #expect(throws: StoreError.self) { try store.retry(id: claimed[0]) }
        expected = try scannedCounts(store)
        #expect(try store.jobCounts() == expected)
        #expect(expected.done == 2 && expected.cancelled == 1)
        clock.advance(milliseconds: 10_000)
        #expect(try store.pruneFinished(olderThan: .seconds(5)) == 3)
        #expect(try store.jobCounts() == scannedCounts(store))
        #expect(try store.jobCounts().done == 0)
    }

    @Test("a queue from before the kept counts (schema 5) is counted once when migrated")
    func countsAreFilledByTheMigration() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        do {
            let database = try Database(path: path, create: true)
            try Migrations.migrate(database, upTo: 5)
            try database.execute("""
                INSERT INTO jobs (source, destination, state, enqueued_at, updated_at) VALUES
                ('/a', '', 'queued', 1, 1), ('/b', '', 'queued', 1, 1), ('/c', '', 'done', 1, 1), ('/d', '', 'failed', 1, 1)
                """)
        }
        let store = try Store(path: path)
        let counts = try store.jobCounts()
        #expect(try counts == scannedCounts(store))
        #expect(counts.queued == 2 && counts.done == 1 && counts.failed == 1 && counts.inFlight == 0)
    }

    @Test("open sessions page after a cursor, in the order they opened; jobs page before one, newest first")
    func pages() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let sessions = try (0..<5).map { try store.openSession(label: "s\($0)", bound: false, owner: owner).id }
        try store.closeSession(id: sessions[1])
        #expect(try store.openSessions(limit: 2).map(\.id) == [sessions[0], sessions[2]])
        #expect(try store.openSessions(limit: 2, after: sessions[2]).map(\.id) == [sessions[3], sessions[4]])
        #expect(try store.openSessions(after: sessions[1]).map(\.id) == Array(sessions[2...]), "a closed session is still a cursor")
        #expect(throws: StoreError.notFound(what: "session nope")) { try store.openSessions(after: "nope") }
        let ids = try store.enqueue(sources: (0..<7).map { "/a/\($0)" }, destination: "")
        #expect(try store.jobs(limit: 3, newestFirst: true).map(\.id) == Array(ids.reversed().prefix(3)))
        #expect(try store.jobs(limit: 3, newestFirst: true, before: ids[4]).map(\.id) == [ids[3], ids[2], ids[1]])
        #expect(try store.jobs(states: [.queued], limit: 10, newestFirst: true, before: ids[1]).map(\.id) == [ids[0]])
    }

    @Test("a page of open sessions and a page of jobs are read in index order from the cursor: no sort, no scan")
    func pagesUseTheirIndex() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        func plan(_ sql: String) throws -> String {
            try store.write { database in
                try database.statement("EXPLAIN QUERY PLAN " + sql).rows([]) { row in row.text(3) }.joined(separator: "; ")
            }
        }
        let sessions = try plan("SELECT id FROM sessions WHERE closed_at IS NULL AND rowid > 5 ORDER BY rowid LIMIT 100")
        #expect(sessions.contains("sessions_open_order") && !sessions.contains("TEMP B-TREE"), "\(sessions)")
        let jobs = try plan("SELECT id FROM jobs WHERE id < 5 ORDER BY id DESC LIMIT 100")
        #expect(jobs.contains("INTEGER PRIMARY KEY") && !jobs.contains("TEMP B-TREE"), "\(jobs)")
    }
}
