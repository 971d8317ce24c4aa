@testable import QuiesceStore
import QuiesceTestSupport
import Testing

/// A folder's files are queued as packs (a row per folder part) and become job rows only when a
/// job is needed one by one. Nothing outside the store may tell the difference: these hold the
/// ids, the order, the counts and every way of reading a job against what a row a job gives.
@Suite("Folders' files queued as packs")
struct JobPackTests {
    private func packs(_ store: Store) throws -> [Int64] {
        try store.write { database in try database.statement("SELECT first_id FROM job_packs ORDER BY first_id").rows { $0.integer(0) } }
    }

    @Test("packed jobs take the next ids in order, between the jobs queued before and after them, also across a restart")
    func idsInOrder() throws {
        let temp = TemporaryDirectory()
        let path = temp.file("agent.db")
        var all: [Int64] = []
        do {
            let store = try Store(path: path)
            all += try store.enqueue(sources: ["/a/1", "/a/2"], destination: "x")
            all += try store.enqueue(packs: [
                JobPack(directory: "/p", destination: "photos/p", names: ["a.jpg", "b c.jpg", "é.jpg"]),
                JobPack(directory: "/p/q", destination: "photos/p/q", names: ["d.jpg", "e.jpg"]),
            ])
            all += try store.enqueue(sources: ["/a/3"], destination: "x")
        }
        let store = try Store(path: path)
        all += try store.enqueue(packs: [JobPack(directory: "/r", destination: "r", names: ["f"])])
        all += try store.enqueue(sources: ["/a/4"], destination: "x")
        #expect(all == Array(1...10))
        #expect(try store.jobCounts().queued == 10)
        #expect(try packs(store) == [3, 6, 9])
        let listed = try store.jobs()
        #expect(listed.map(\.id) == all)
        #expect(listed.map(\.source) == ["/a/1", "/a/2", "/p/a.jpg", "/p/b c.jpg", "/p/é.jpg", "/p/q/d.jpg", "/p/q/e.jpg", "/a/3", "/r/f", "/a/4"])
        #expect(listed.map(\.destination)[2...6] == ["photos/p", "photos/p", "photos/p", "photos/p/q", "photos/p/q"])
        #expect(listed.allSatisfy { $0.state == .queued && $0.attempts == 0 && $0.nextAttemptAt == 0 })
        #expect(try packs(store).isEmpty, "a list of every job made their rows")
        #expect(try store.enqueue(sources: ["/a/5"], destination: "x") == [11], "no id is given twice")
    }

    @Test("a claim takes the oldest ready jobs, packed or not, and unpacks only the packs it needs")
    func claimsInOrder() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let first = try store.enqueue(packs: [
            JobPack(directory: "/p", destination: "", names: (0..<5).map { "f\($0)" }),
            JobPack(directory: "/q", destination: "", names: (0..<5).map { "g\($0)" }),
        ])
        let plain = try store.enqueue(sources: ["/a/1"], destination: "")
        let claimed = try store.claim(limit: 3)
        #expect(claimed.map(\.id) == Array(first[0..<3]))
        #expect(claimed.map(\.source) == ["/p/f0", "/p/f1", "/p/f2"])
        #expect(try packs(store) == [first[5]], "the second pack stays packed")
        #expect(try store.claim(limit: 4).map(\.id) == [first[3], first[4], first[5], first[6]])
        #expect(try store.claim(limit: 10).map(\.id) == Array(first[7...]) + plain)
        #expect(try store.claim(limit: 10).isEmpty)
        #expect(try store.jobCounts().inFlight == 11 && store.jobCounts().queued == 0)
    }

    @Test("a packed job can be looked at, cancelled and retried by its id, and the counts agree with a full count")
    func oneByOne() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let ids = try store.enqueue(packs: [
            JobPack(directory: "/p", destination: "d", names: ["a", "b"]),
            JobPack(directory: "/q", destination: "e", names: ["c", "d"]),
        ])
        #expect(try store.nextAttemptTime() == 0, "packed jobs are ready at once")
        let job = try store.job(id: ids[3])
        #expect(job.source == "/q/d" && job.destination == "e" && job.state == .queued)
        #expect(try packs(store) == [ids[0]], "only the pack holding it was unpacked")
        try store.cancel(id: ids[1])
        try store.retry(id: ids[1])
        try store.cancel(id: ids[0])
        #expect(try packs(store).isEmpty)
        #expect(throws: StoreError.self) { try store.job(id: ids[3] + 1) }
        let counts = try store.jobCounts()
        #expect(counts.queued == 3 && counts.cancelled == 1)
        #expect(try counts == store.write { database in try Store.counts(database, "SELECT state, count(*) FROM jobs GROUP BY state") })
    }

    @Test("a pack that is not valid queues nothing: a name that is not a file's, a relative folder, a destination that climbs out")
    func validation() throws {
        let temp = TemporaryDirectory()
        let store = try Store(path: temp.file("agent.db"))
        let good = JobPack(directory: "/p", destination: "d", names: ["a"])
        for bad in [
            JobPack(directory: "/p", destination: "d", names: ["b/c"]),
            JobPack(directory: "/p", destination: "d", names: [".."]),
            JobPack(directory: "/p", destination: "d", names: [""]),
            JobPack(directory: "/p", destination: "d", names: ["nul\u{0}byte"]),
            JobPack(directory: "/p", destination: "d", names: [String(repeating: "n", count: 256)]),
            JobPack(directory: "relative", destination: "d", names: ["a"]),
            JobPack(directory: "/p", destination: "../out", names: ["a"]),
        ] {
            #expect(throws: StoreError.self, "\(bad)") { try store.enqueue(packs: [good, bad]) }
        }
        #expect(try store.jobCounts().queued == 0)
        #expect(try packs(store).isEmpty)
        #expect(try store.enqueue(packs: [good]) == [1], "no id was used by a refused call")
    }
}
