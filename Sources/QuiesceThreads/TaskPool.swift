@_spi(ExperimentalScheduling) import _Concurrency
import Glibc

/// The executor every task runs on unless it is told otherwise: a few threads of our own that
/// sleep on a condition variable when there is nothing to do, and a timer thread for sleeps.
///
/// Why not the default: on Linux the default executor is libdispatch's worker pool, and once
/// it has run a single job a thread of it wakes once a second for the life of the process
/// (measured: 15 wake-ups in 15 s of idling). This pool, idle, wakes never (0 in 15 s).
/// Jobs run in the order they come, in two classes: those of tasks below `.medium` priority
/// (`.utility`, `.background`: what only follows and reports, like the agent's announcements of
/// its state) run when no other job waits. A quit's own steps then never queue behind the
/// announcements the quit itself causes (on two cores that was a third of a millisecond of each
/// idle quit).
final class TaskPool: TaskExecutor, @unchecked Sendable {
    // Safe: the queues are touched only under `condition`.
    private let condition = ThreadCondition()
    private var queue = FIFO<UnownedJob>()
    /// Jobs of tasks below `.medium` priority.
    private var later = FIFO<UnownedJob>()
    let timer: TimerThread

    init(threads: Int) {
        timer = TimerThread()
        timer.pool = self
        for index in 0..<threads {
            do {
                try DetachedThread.start(name: "quiesce-pool-\(index)") { [self] in loop() }
            } catch {
                // Fewer threads, slower; none at all and no task could run: nothing to do then.
                precondition(index > 0, "\(error)")
            }
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        submit(UnownedJob(job))
    }

    func submit(_ job: UnownedJob) {
        let priority = TaskPriority(rawValue: job.priority.rawValue)
        let background = priority.rawValue != 0 && priority < .medium
        condition.lock()
        if background { later.append(job) } else { queue.append(job) }
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        let executor = asUnownedTaskExecutor()
        while true {
            condition.lock()
            while queue.isEmpty && later.isEmpty { condition.wait() }
            let job = queue.removeFirst() ?? later.removeFirst()
            condition.unlock()
            guard let job else { continue }
            job.runSynchronously(on: executor)
        }
    }
}

/// Sleeps (`Task.sleep`, a clock's `sleep`) come here rather than to libdispatch's timers.
extension TaskPool: SchedulingExecutor {
    func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        timer.schedule(UnownedJob(job), after: Self.nanoseconds(clock.now.duration(to: instant)))
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        timer.schedule(UnownedJob(job), after: Self.nanoseconds(delay))
    }

    /// Every clock of the standard library measures in `Duration`; another kind runs at once.
    private static func nanoseconds<D: DurationProtocol>(_ duration: D) -> UInt64 {
        guard let duration = duration as? Duration, duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}

/// Holds delayed jobs until their time, on the monotonic clock; waits forever when there are none.
final class TimerThread: @unchecked Sendable {
    // Safe: `pending` is touched only under `condition`; `pool` is set once, before any job.
    private let condition = ThreadCondition()
    /// Sorted by deadline (ns on the monotonic clock); a sleep is rare, so insertion is fine.
    private var pending: [(deadline: UInt64, job: UnownedJob)] = []
    unowned(unsafe) var pool: TaskPool!

    init() {
        do {
            try DetachedThread.start(name: "quiesce-timer") { [self] in loop() }
        } catch {
            preconditionFailure("\(error)")
        }
    }

    func schedule(_ job: UnownedJob, after delay: UInt64) {
        let deadline = ThreadCondition.now() &+ delay
        condition.lock()
        let index = pending.firstIndex { $0.deadline > deadline } ?? pending.count
        pending.insert((deadline, job), at: index)
        if index == 0 { condition.signal() }
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            var due: [UnownedJob] = []
            while due.isEmpty {
                guard let first = pending.first else {
                    condition.wait()
                    continue
                }
                let now = ThreadCondition.now()
                if first.deadline <= now {
                    while let next = pending.first, next.deadline <= now {
                        due.append(next.job)
                        pending.removeFirst()
                    }
                } else {
                    condition.wait(until: first.deadline)
                }
            }
            condition.unlock()
            for job in due { pool.submit(job) }
        }
    }
}
