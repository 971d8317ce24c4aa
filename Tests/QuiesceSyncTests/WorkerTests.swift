import Glibc
import Logging
import QuiesceCopy
import QuiesceCore
import QuiesceStore
@testable import QuiesceSync
import QuiesceTestSupport
import Synchronization
import Testing

@Suite("The sync worker")
struct WorkerTests {
    let temp = TemporaryDirectory()
    let logger = Logger(label: "test")

    init() {
        mkdir(temp.file("nas"), 0o755)
        mkdir(temp.file("src"), 0o755)
    }

    private func makeSources(_ count: Int, size: Int = 4096) -> [String] {
        (0..<count).map { index in
            let path = temp.file("src/file-\(index).bin")
            writeFile(path, pseudoRandomBytes(count: size + index, seed: UInt64(index)))
            return path
        }
    }

    @Test("queued jobs are copied, verified and marked done; the in-flight count returns to 0")
    func copiesTheQueue() async throws {
        let store = try Store(path: temp.file("agent.db"))
        let worker = SyncWorker(store: store, nasRoot: temp.file("nas"), claims: Gate(name: "claims", open: true), logger: logger)
        try await worker.start()
        let sources = makeSources(5)
        _ = try store.enqueue(sources: sources, destination: "backup")
        worker.wake()
        try await eventually("all done") { try store.jobCounts().done == 5 }
        try await worker.stop()
        for job in try store.jobs() {
            #expect(job.state == .done)
            #expect(job.checksum?.hasPrefix("xxh64:") == true)
            let same = readFile(temp.file("nas/backup/\(job.fileName)")) == readFile(job.source)
            #expect(same, "\(job.fileName) copied byte for byte")
        }
        #expect(worker.inFlight.count == 0)
    }

    @Test("two cameras' IMG_0001.JPG queued into one folder, copied at once: both land, the second beside the first, and the job says so")
    func sameNameTwice() async throws {
        let store = try Store(path: temp.file("agent.db"))
        let worker = SyncWorker(
            store: store, nasRoot: temp.file("nas"), concurrency: 2, claims: Gate(name: "claims", open: true), host: "laptop",
            logger: logger)
        mkdir(temp.file("src/a"), 0o755)
        mkdir(temp.file("src/b"), 0o755)
        writeFile(temp.file("src/a/IMG_0001.JPG"), pseudoRandomBytes(count: 2 << 20, seed: 1))
        writeFile(temp.file("src/b/IMG_0001.JPG"), pseudoRandomBytes(count: 2 << 20, seed: 2))
        let ids = try store.enqueue(sources: [temp.file("src/a/IMG_0001.JPG"), temp.file("src/b/IMG_0001.JPG")], destination: "photos")
        try await worker.start()
        worker.wake()
        try await eventually("both done") { try store.jobCounts().done == 2 }
        try await worker.stop()
        let jobs = try ids.map { try store.job(id: $0) }
        #expect(jobs.map(\.outcome) == ["copied", "kept-both"])
        let beside = try #require(jobs[1].landedName)
        #expect(beside.hasPrefix("IMG_0001 (conflict laptop ") && beside.hasSuffix(").JPG"))
        #expect(sameContents(temp.file("nas/photos/IMG_0001.JPG"), temp.file("src/a/IMG_0001.JPG")))
        #expect(sameContents(temp.file("nas/photos/\(beside)"), temp.file("src/b/IMG_0001.JPG")))
        #expect(allFiles(under: temp.file("nas")).count == 2)

        // A newer version of the second replaces its own copy, beside the first, again.
        writeFile(temp.file("src/b/IMG_0001.JPG"), pseudoRandomBytes(count: 1 << 20, seed: 3))
        let again = try store.enqueue(sources: [temp.file("src/b/IMG_0001.JPG")], destination: "photos")[0]
        let worker2 = SyncWorker(store: store, nasRoot: temp.file("nas"), claims: Gate(name: "claims", open: true), host: "laptop", logger: logger)
        try await worker2.start()
        worker2.wake()
        try await eventually("the newer version done") { try store.job(id: again).state == .done }
        try await worker2.stop()
        #expect(try store.job(id: again).outcome == "replaced")
        #expect(sameContents(temp.file("nas/photos/\(beside)"), temp.file("src/b/IMG_0001.JPG")))
        #expect(allFiles(under: temp.file("nas")).count == 2)
    }

    @Test("with no NAS root configured, jobs wait and the worker says why; setting it starts them")
    func waitsForTheNASRoot() async throws {
        let store = try Store(path: temp.file("agent.db"))
        let worker = SyncWorker(store: store, nasRoot: nil, claims: Gate(name: "claims", open: true), logger: logger)
        try await worker.start()
        _ = try store.enqueue(sources: makeSources(2), destination: "")
        worker.wake()
        #expect(worker.waitingReason?.contains("sync.nas_root") == true)
        #expect(try store.jobCounts().queued == 2)
        worker.setNASRoot(temp.file("nas"))
        try await eventually("copied once the root is set") { try store.jobCounts().done == 2 }
        #expect(worker.waitingReason == nil)
        try await worker.stop()
    }

    @Test("a missing NAS root: jobs stay queued without counting attempts, the worker says why, and copying starts when it appears")
    func missingRootWaits() async throws {
        let store = try Store(path: temp.file("agent.db"))
        let root = temp.file("unmounted")
        let worker = SyncWorker(
            store: store, nasRoot: root, claims: Gate(name: "claims", open: true), rootRecheck: .milliseconds(50), logger: logger)
        var changes = worker.waitingChanges.makeAsyncIterator()
        try await worker.start()
        let ids = try store.enqueue(sources: makeSources(3), destination: "")
        worker.wake()
        try await eventually("the worker saying why") { worker.waitingReason?.contains("is the NAS mounted?") == true }
        #expect(await changes.next() != nil, "the change announced")
        // Several looks later: still queued, never claimed, no attempt counted.
        try await Task.sleep(for: .milliseconds(300))
        for id in ids {
            let job = try store.job(id: id)
            #expect(job.state == .queued)
            #expect(job.attempts == 0)
        }
        // It appears (mounted, say): found at the next look, with no enqueue or reload to wake it.
        mkdir(root, 0o755)
        try await eventually("copied once the root is there") { try store.jobCounts().done == 3 }
        #expect(worker.waitingReason == nil)
        #expect(await changes.next() != nil, "the return announced")
        try await worker.stop()
    }

    @Test("with require_mount, a root on the local disk (an empty mount point) gets nothing; mounted, it gets the copies", .enabled(if: canMount))
    func requireMount() async throws {
        let store = try Store(path: temp.file("agent.db"))
        let mountPoint = temp.file("nas")  // a plain directory beside the database, as an unmounted mount point is
        let worker = SyncWorker(
            store: store, nasRoot: mountPoint, claims: Gate(name: "claims", open: true), requireMount: true,
            localDirectory: temp.path, rootRecheck: .milliseconds(50), logger: logger)
        try await worker.start()
        let ids = try store.enqueue(sources: makeSources(2), destination: "photos")
        worker.wake()
        try await eventually("the worker saying why") { worker.waitingReason?.contains("is not mounted") == true }
        try await Task.sleep(for: .milliseconds(200))
        #expect(allFiles(under: mountPoint).isEmpty, "nothing written to the local disk")
        #expect(try ids.map { try store.job(id: $0).attempts } == [0, 0])

        let mount = try TmpfsMount(kilobytes: 1024, at: mountPoint)
        try await eventually("copied once mounted") { try store.jobCounts().done == 2 }
        #expect(worker.waitingReason == nil)
        try await worker.stop()
        #expect(allFiles(under: "\(mount.path)/photos").count == 2)
    }

    @Test("an unreadable source keeps the job queued with a retry time, and nothing is written")
    func unreadableSource() async throws {
        let store = try Store(path: temp.file("agent.db"))
        let worker = SyncWorker(store: store, nasRoot: temp.file("nas"), claims: Gate(name: "claims", open: true), logger: logger)
        try await worker.start()
        let id = try store.enqueue(sources: [temp.file("src/missing.txt")], destination: "")[0]
        worker.wake()
        try await eventually("the failed attempt recorded") { try store.job(id: id).attempts == 1 }
        #expect(try store.job(id: id).state == .queued)
        #expect(try store.job(id: id).lastError?.contains("cannot read") == true)
        #expect(allFiles(under: temp.file("nas")).isEmpty)
        try await worker.stop()
    }

    @Test("a full NAS keeps the job queued, removes the partial file, and the job completes once space is freed", .enabled(if: canMount))
    func fullDiskIsRetried() async throws {
        let mount = try TmpfsMount(kilobytes: 1024)
        let store = try Store(path: temp.file("agent.db"))
        let worker = SyncWorker(
            store: store, nasRoot: mount.path, claims: Gate(name: "claims", open: true),
            retry: RetryPolicy(base: .milliseconds(200), cap: .milliseconds(200)), logger: logger)
        writeFile("\(mount.path)/filler", [UInt8](repeating: 1, count: 900 * 1024))
        try await worker.start()
        let id = try store.enqueue(sources: makeSources(1, size: 300 * 1024), destination: "")[0]
        worker.wake()
        try await eventually("the ENOSPC attempt recorded") { try store.job(id: id).attempts >= 1 }
        #expect(try store.job(id: id).lastError?.contains("the NAS is full") == true)
        #expect(!allFiles(under: mount.path).contains { $0.hasSuffix(".quiesce-partial") })
        unlink("\(mount.path)/filler")
        try await eventually("copied after space was freed") { try store.job(id: id).state == .done }
        try await worker.stop()
    }

    @Test("stopping mid-copy aborts it: the job is back in the queue as it was, with no partial file")
    func stopAbortsAndRequeues() async throws {
        let store = try Store(path: temp.file("agent.db"))
        let worker = SyncWorker(store: store, nasRoot: temp.file("nas"), claims: Gate(name: "claims", open: true), logger: logger)
        // A sparse 4 GiB file: costs nothing to make, takes long enough to copy to be caught.
        let big = temp.file("src/disk.img")
        let fd = open(big, O_WRONLY | O_CREAT, 0o644)
        ftruncate(fd, 4 << 30)
        close(fd)
        try await worker.start()
        let id = try store.enqueue(sources: [big], destination: "images")[0]
        worker.wake()
        try await eventually("the copy in flight") { worker.inFlight.count == 1 }
        try await worker.stop()
        let job = try store.job(id: id)
        #expect(job.state == .queued)
        #expect(job.attempts == 0, "an abort is not a failed attempt")
        #expect(!allFiles(under: temp.file("nas")).contains { $0.hasSuffix(".quiesce-partial") })
        #expect(!exists(temp.file("nas/images/disk.img")))
        #expect(worker.inFlight.count == 0)
    }

    @Test("nothing is claimed while the coordinator prepares for sleep; claiming resumes on wake")
    func claimsNothingWhilePaused() async throws {
        let store = try Store(path: temp.file("agent.db"))
        let coordinator = ShutdownCoordinator(clock: ContinuousClock(), logger: logger)
        let worker = SyncWorker(store: store, nasRoot: temp.file("nas"), claims: coordinator.claims, logger: logger)
        let run = Task { await coordinator.run() }
        try await worker.start()
        while await coordinator.phase != .running { await Task.yield() }
        let hold = await coordinator.trigger(.systemSleep(window: .seconds(5))).hold
        _ = await hold?.released()
        _ = try store.enqueue(sources: makeSources(3), destination: "")
        worker.wake()
        try await Task.sleep(for: .milliseconds(100))
        #expect(try store.jobCounts().queued == 3, "nothing claimed while paused")
        await coordinator.resume(.sleep)
        try await eventually("copied after wake") { try store.jobCounts().done == 3 }
        try await worker.stop()
        await coordinator.trigger(.force)
        _ = await run.value
    }

    @Test("the worker's in-flight count is the coordinator's work source: a quit proceeds when the copy ends")
    func quitWaitsForTheCopy() async throws {
        let store = try Store(path: temp.file("agent.db"))
        let claims = Gate(name: "claims", open: false)
        let worker = SyncWorker(store: store, nasRoot: temp.file("nas"), claims: claims, logger: logger)
        let watching = ShutdownCoordinator(
            clock: ContinuousClock(), sources: [worker.inFlight], components: [worker], claims: claims, logger: logger)
        let run = Task { await watching.run() }
        while await watching.phase != .running { await Task.yield() }
        let big = temp.file("src/large.bin")
        writeFile(big, pseudoRandomBytes(count: 8 << 20, seed: 9))
        _ = try store.enqueue(sources: [big], destination: "")
        worker.wake()
        try await eventually("the copy in flight") { worker.inFlight.count == 1 }
        await watching.trigger(.request())
        let result = await run.value
        #expect(result.outcome == .clean, "the quit waited for the copy instead of cutting it off")
        #expect(try store.jobCounts().done == 1)
    }
}
