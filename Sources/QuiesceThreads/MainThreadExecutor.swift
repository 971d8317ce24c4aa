@_spi(ExperimentalCustomExecutors) import _Concurrency

/// The main actor's executor: the process's main thread, waiting on a condition variable.
final class MainThreadExecutor: MainExecutor, @unchecked Sendable {
    // Safe: `queue` is touched only under `condition`.
    private let condition = ThreadCondition()
    private var queue: [UnownedJob] = []
    private var stopped = false

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.locked {
            queue.append(job)
            condition.signal()
        }
    }

    /// The main thread's loop: runs main-actor jobs until ``stop()``.
    func run() throws {
        while true {
            condition.lock()
            while queue.isEmpty && !stopped { condition.wait() }
            if queue.isEmpty {
                condition.unlock()
                return
            }
            let jobs = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in jobs { job.runSynchronously(on: asUnownedSerialExecutor()) }
        }
    }

    func stop() {
        condition.locked {
            stopped = true
            condition.signal()
        }
    }
}
