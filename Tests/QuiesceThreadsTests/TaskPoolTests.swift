import Glibc
@testable import QuiesceThreads
import Synchronization
import Testing

private final class Record: Sendable {
    let order = Mutex<[String]>([])
    let release = Atomic<Bool>(false)
    let holding = Atomic<Bool>(false)
}

@Suite("TaskPool")
struct TaskPoolTests {
    @Test("a job of a utility-priority task waits while a job of a medium one is queued, whatever their order")
    func backgroundJobsYield() async throws {
        let pool = TaskPool(threads: 1)
        let record = Record()
        // The pool's only thread held, so the next two jobs wait in its queues together.
        let holder = Task(executorPreference: pool) {
            record.holding.store(true, ordering: .relaxed)
            while !record.release.load(ordering: .relaxed) { usleep(1000) }
        }
        while !record.holding.load(ordering: .relaxed) { usleep(1000) }
        let follower = Task(executorPreference: pool, priority: .utility) { record.order.withLock { $0.append("utility") } }
        usleep(20_000)
        let work = Task(executorPreference: pool, priority: .medium) { record.order.withLock { $0.append("medium") } }
        usleep(20_000)
        record.release.store(true, ordering: .relaxed)
        await holder.value
        await follower.value
        await work.value
        #expect(record.order.withLock { $0 } == ["medium", "utility"])
    }
}
