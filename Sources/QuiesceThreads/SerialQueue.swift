import Glibc

/// Work run one piece at a time, in order: what a serial `DispatchQueue` gives, without
/// libdispatch (see ``DetachedThread`` for why).
///
/// `sync` runs on the caller's thread when nothing else is running or waiting, as libdispatch
/// does, so a caller that finds the queue free pays no thread hop; otherwise it waits its turn.
/// `async` work runs on the queue's own thread, which sleeps on a condition variable between
/// pieces and makes no wake-ups when there are none.
public final class SerialQueue: @unchecked Sendable {
    // Safe: every stored property below is touched only under `condition`.
    private let condition = ThreadCondition()
    private var pending = FIFO<@Sendable () -> Void>()
    /// The thread running a piece of work now, if any.
    private var owner: pthread_t?
    private let label: String
    private var threadStarted = false

    public init(label: String) {
        self.label = label
    }

    /// Whether the calling thread is running this queue's work now.
    public var isCurrent: Bool {
        condition.locked { owner.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    /// Queues `work` and returns at once.
    public func async(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        pending.append(work)
        let startThread = !threadStarted
        threadStarted = true
        condition.broadcast()
        condition.unlock()
        if startThread { startWorker() }
    }

    /// Runs `work` in its turn and returns its result. Must not be called from the queue's own
    /// work (check ``isCurrent`` and run it directly there).
    public func sync<T>(_ work: () throws -> T) rethrows -> T {
        condition.lock()
        if owner == nil && pending.isEmpty {
            owner = pthread_self()
            condition.unlock()
            defer {
                condition.lock()
                owner = nil
                // Only the queue's thread waits on the condition, and only for work: woken with
                // none queued, it would look and sleep again — two context switches for every
                // `sync` on a free queue (every message the D-Bus layer sent).
                if !pending.isEmpty { condition.broadcast() }
                condition.unlock()
            }
            return try work()
        }
        condition.unlock()
        // Busy: wait for a turn, then run here (the work stays on the caller's stack).
        let turn = Turn()
        async { turn.arrive() }
        let worker = turn.awaitArrival()
        // The queue's thread is parked in `arrive` until `finish`: this thread holds the queue.
        condition.locked { owner = pthread_self() }
        defer {
            condition.locked { owner = worker }
            turn.finish()
        }
        return try work()
    }

    private func startWorker() {
        do {
            try DetachedThread.start(name: label) { [self] in loop() }
        } catch {
            // No thread: run what is queued on the next caller's thread instead.
            condition.locked { threadStarted = false }
        }
    }

    private func loop() {
        condition.lock()
        while true {
            while pending.isEmpty || owner != nil { condition.wait() }
            guard let work = pending.removeFirst() else { continue }
            owner = pthread_self()
            condition.unlock()
            work()
            condition.lock()
            owner = nil
            condition.broadcast()
        }
    }

    /// A `sync` caller's turn: the queue's thread arrives and waits until the caller is done.
    private final class Turn: @unchecked Sendable {
        private let condition = ThreadCondition()
        private var arrived: pthread_t?
        private var finished = false

        func arrive() {
            condition.lock()
            arrived = pthread_self()
            condition.broadcast()
            while !finished { condition.wait() }
            condition.unlock()
        }

        /// Returns the queue's thread, now parked.
        func awaitArrival() -> pthread_t {
            condition.lock()
            defer { condition.unlock() }
            while true {
                if let arrived { return arrived }
                condition.wait()
            }
        }

        func finish() {
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
    }
}
