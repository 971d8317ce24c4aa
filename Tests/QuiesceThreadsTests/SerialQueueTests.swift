import Glibc
import QuiesceThreads
import Synchronization
import Testing

/// Counters shared with work on other threads.
private final class Shared: Sendable {
    let running = Atomic<Int>(0)
    let overlapped = Atomic<Bool>(false)
    let release = Atomic<Bool>(false)
    let seen = Mutex<[Int]>([])
    let order = Mutex<[String]>([])
}

@Suite("SerialQueue and DetachedThread")
struct SerialQueueTests {
    @Test("async work runs in order, one piece at a time, on the queue's thread")
    func asyncRunsInOrder() async throws {
        let queue = SerialQueue(label: "test-order")
        let shared = Shared()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for index in 0..<200 {
                queue.async {
                    if shared.running.add(1, ordering: .relaxed).newValue > 1 { shared.overlapped.store(true, ordering: .relaxed) }
                    #expect(queue.isCurrent)
                    shared.seen.withLock { $0.append(index) }
                    shared.running.subtract(1, ordering: .relaxed)
                    if index == 199 { done.resume() }
                }
            }
        }
        #expect(shared.seen.withLock { $0 } == Array(0..<200))
        let overlapped = shared.overlapped.load(ordering: .relaxed)
        #expect(!overlapped)
        #expect(!queue.isCurrent, "this thread is not the queue's")
    }

    @Test("sync on a free queue does not wake the queue's sleeping thread; async work queued meanwhile still runs")
    func syncLeavesTheThreadAsleep() async throws {
        let (queue, thread) = try await Self.queueWithThread("test-quiet")
        let before = try #require(Self.switches(thread))
        for _ in 0..<200 {
            queue.sync {}
            usleep(200)  // as the D-Bus layer's sends come: one at a time, the thread asleep again between them
        }
        let after = try #require(Self.switches(thread))
        // Before the fix: every sync woke the thread to find nothing (200 or more).
        #expect(after - before < 20, "the queue's thread woke \(after - before) times for 200 syncs with nothing queued")
        let shared = Shared()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.sync {
                queue.async {
                    shared.order.withLock { $0.append("async") }
                    done.resume()
                }
            }
        }
        #expect(shared.order.withLock { $0 } == ["async"], "work queued during a sync runs after it")
    }

    /// A queue whose thread has started, and that thread's id (its name made unique to this run).
    private static func queueWithThread(_ prefix: String) async throws -> (SerialQueue, String) {
        let label = "\(prefix)-\(getpid() % 1000)"
        let queue = SerialQueue(label: label)
        await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in queue.async { started.resume() } }
        return (queue, try #require(thread(named: label), "the queue's thread"))
    }

    /// The id of this process's thread named `name`.
    private static func thread(named name: String) -> String? {
        guard let directory = opendir("/proc/self/task") else { return nil }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let id = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard id.first?.isNumber == true else { continue }
            if let comm = contents("/proc/self/task/\(id)/comm"), comm.hasPrefix(String(name.prefix(15))) { return id }
        }
        return nil
    }

    /// A thread's context switches so far (voluntary and not).
    private static func switches(_ thread: String) -> Int? {
        guard let status = contents("/proc/self/task/\(thread)/status") else { return nil }
        return status.split(separator: "\n").filter { $0.contains("ctxt_switches:") }
            .compactMap { $0.split(separator: "\t").last.flatMap { Int($0) } }
            .reduce(0, +)
    }

    private static func contents(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = Glibc.read(descriptor, &bytes, bytes.count)
        return count > 0 ? String(decoding: bytes[..<count], as: UTF8.self) : nil
    }

    @Test("sync on a free queue runs on the caller's thread; on a busy one it waits its turn, after what was queued")
    func syncWaitsItsTurn() throws {
        let queue = SerialQueue(label: "test-sync")
        let caller = pthread_self()
        let inline = queue.sync { pthread_equal(pthread_self(), caller) != 0 && queue.isCurrent }
        #expect(inline)
        let shared = Shared()
        queue.async {
            while !shared.release.load(ordering: .relaxed) { usleep(1000) }
            shared.order.withLock { $0.append("first") }
        }
        queue.async { shared.order.withLock { $0.append("second") } }
        try DetachedThread.start(name: "test-release") {
            usleep(50_000)
            shared.release.store(true, ordering: .relaxed)
        }
        let result = queue.sync { () -> Bool in
            shared.order.withLock { $0.append("sync") }
            return queue.isCurrent
        }
        #expect(result, "the waiting caller holds the queue while its work runs")
        #expect(shared.order.withLock { $0 } == ["first", "second", "sync"])
        #expect(!queue.isCurrent)
    }

    @Test("a caller waiting behind another caller is handed the queue by it: the queue's thread is not woken to pass it on")
    func turnsPassWithoutTheQueueThread() async throws {
        let (queue, thread) = try await Self.queueWithThread("test-turns")
        let before = try #require(Self.switches(thread))
        let shared = Shared()
        let done = Atomic<Int>(0)
        // Two threads taking the queue in turns, each holding it a while: most of their calls
        // find it held by the other (as a task's send finds a reply being sent).
        for name in ["test-turn-a", "test-turn-b"] {
            try DetachedThread.start(name: name) {
                for _ in 0..<100 {
                    queue.sync {
                        if shared.running.add(1, ordering: .relaxed).newValue > 1 { shared.overlapped.store(true, ordering: .relaxed) }
                        usleep(200)
                        shared.running.subtract(1, ordering: .relaxed)
                    }
                }
                done.add(1, ordering: .releasing)
            }
        }
        while done.load(ordering: .acquiring) < 2 { try await Task.sleep(for: .milliseconds(5)) }
        let after = try #require(Self.switches(thread))
        let overlapped = shared.overlapped.load(ordering: .relaxed)
        #expect(!overlapped, "two callers held the queue at once")
        // Before the fix a waiting caller's turn went through the queue's thread: it woke to
        // fetch the caller and again when the caller was done, two or more switches a turn.
        #expect(after - before < 20, "the queue's thread woke \(after - before) times for 200 contended syncs")
        #expect(queue.sync { 7 } == 7, "the queue is free again")
    }

    @Test("sync rethrows what its work throws and frees the queue")
    func syncRethrows() {
        struct Failure: Error {}
        let queue = SerialQueue(label: "test-throw")
        #expect(throws: Failure.self) { try queue.sync { throw Failure() } }
        #expect(queue.sync { 7 } == 7)
    }

    @Test("DetachedThread.run runs blocking work on a named thread of its own and returns its result")
    func detachedRun() async {
        let name = await DetachedThread.run(name: "test-detached") { () -> String in
            var buffer = [CChar](repeating: 0, count: 32)
            let file = open("/proc/thread-self/comm", O_RDONLY)
            defer { close(file) }
            let count = read(file, &buffer, 31)
            return String(decoding: buffer.prefix(max(0, count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        #expect(name == "test-detached\n")
    }
}
