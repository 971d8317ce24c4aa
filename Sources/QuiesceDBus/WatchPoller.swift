import CDBus
import Glibc
import QuiesceThreads
import Synchronization

/// Waits for everything a connection waits for — its socket and libdbus's timeouts — on a thread
/// of its own, and hands what is due to the connection, which handles it on its queue.
///
/// Why a thread and not `DispatchSource`s: on Linux a dispatch source is watched by libdispatch's
/// manager thread, which then wakes a worker thread for the queue, which then resumes the caller's
/// task; and every call's reply timeout was a timer source made and cancelled, each poking the
/// manager thread. Measured, that was most of a round trip (0.10 ms against 0.045 ms for a blocking
/// C client). Here the thread that sees the socket readable handles it itself
/// (`DispatchQueue.sync` runs inline when the queue is free), and a timeout costs a table entry.
/// Nothing polls: `poll(2)` sleeps until a descriptor is ready, our eventfd is written, or the
/// earliest timeout is due.
///
/// Not libdbus's own `dbus_connection_read_write_dispatch` on a thread: that holds libdbus's I/O
/// lock while it waits, delaying every other thread's send (the brief records it).
///
/// The thread is also a `TaskExecutor` (``BusConnection/executor``): a task that prefers it runs
/// between two polls, so a reply read here resumes its caller on this very thread, with no
/// hand-over to the cooperative pool. That hand-over (a futex wake and a second thread scheduled)
/// was about a fifth of a round trip. Once the loop has stopped, its jobs go to the global
/// executor, so a task that outlives the connection carries on.
final class WatchPoller: TaskExecutor {
    /// A libdbus watch or timeout as the thread sees it. `key` is the `DBusWatch*` or
    /// `DBusTimeout*` as a number: the thread never touches it; the connection does, on its queue,
    /// after checking it is still registered.
    struct Watch: Sendable {
        let key: UInt
        let descriptor: Int32
        let flags: UInt32
        let enabled: Bool
    }

    private struct Timeout {
        let interval: Duration
        var due: ContinuousClock.Instant
    }

    /// What the thread calls, on itself; dropped when it stops (they hold the connection).
    struct Handlers {
        /// A watch is ready, with the libdbus flags for it.
        let watchReady: @Sendable (UInt, UInt32) -> Void
        /// A timeout is due.
        let timeoutDue: @Sendable (UInt) -> Void
        /// The thread cannot wait any more (`poll` failed): the connection is as good as lost.
        let failed: @Sendable (String) -> Void
    }

    /// `poll(2)`, or a stand-in that fails (the tests' only way to make it fail).
    typealias Poll = @Sendable (UnsafeMutablePointer<pollfd>, nfds_t, Int32) -> Int32

    private struct State {
        var handlers: Handlers?
        var watches: [UInt: Watch] = [:]
        var timeouts: [UInt: Timeout] = [:]
        /// When the thread will wake by itself; a timeout due earlier must wake it.
        var sleepingUntil: ContinuousClock.Instant?
        var stopped = false
        /// Task jobs waiting for the thread (see ``enqueue(_:)``).
        var jobs: [UnownedJob] = []
    }

    private let state = Mutex(State())
    /// Closed in deinit, not when the thread ends: ``wake()`` may still be writing to it then, and
    /// a descriptor number closed early can be reused by anything.
    private let wakeDescriptor: Int32
    /// The thread's `pthread_self()`, once it runs: on it, nothing needs waking.
    private let thread = Atomic<UInt>(0)
    private let poll: Poll

    private init(wakeDescriptor: Int32, poll: @escaping Poll) {
        self.wakeDescriptor = wakeDescriptor
        self.poll = poll
    }

    /// A poller with its wake-up descriptor. Fails, rather than crashing the program, when the
    /// process is out of descriptors (`EMFILE`): opening a connection then fails with the reason.
    static func make(
        wakeDescriptor: () -> Int32 = { quiesce_wake_descriptor() },
        poll: @escaping Poll = { Glibc.poll($0, $1, $2) }
    ) throws(DBusError) -> WatchPoller {
        let descriptor = wakeDescriptor()
        guard descriptor >= 0 else {
            throw DBusError(name: .failed, message: "cannot create the connection's wake-up descriptor (eventfd): \(String(cString: strerror(errno)))")
        }
        return WatchPoller(wakeDescriptor: descriptor, poll: poll)
    }

    deinit {
        close(wakeDescriptor)
    }

    /// Starts the thread. Called once, by the connection, right after connecting; a thread that
    /// cannot be made (`EAGAIN`: out of threads or memory) fails the connection's opening.
    func start(_ handlers: Handlers) throws(DBusError) {
        state.withLock { $0.handlers = handlers }
        do {
            try DetachedThread.start(name: Self.threadName) { [self] in loop() }
        } catch {
            state.withLock { $0.handlers = nil }
            throw DBusError(name: .failed, message: "cannot start the connection's thread: \(String(cString: strerror(error.code)))")
        }
    }

    /// Adds or updates a watch (libdbus toggles them as its output queue fills and drains).
    func set(_ watch: Watch) {
        state.withLock { $0.watches[watch.key] = watch }
        wake()
    }

    func removeWatch(_ key: UInt) {
        // No wake: the thread finds out the next time it looks, and ignores a stale readiness.
        _ = state.withLock { $0.watches.removeValue(forKey: key) }
    }

    /// Starts (or restarts) a timeout that fires every `interval` until removed.
    func setTimeout(_ key: UInt, interval: Duration) {
        let due = ContinuousClock.now + interval
        let earlier = state.withLock { state in
            state.timeouts[key] = Timeout(interval: interval, due: due)
            // A thread asleep with no deadline must learn of this one.
            return state.sleepingUntil.map { due < $0 } ?? true
        }
        if earlier { wake() }
    }

    func removeTimeout(_ key: UInt) {
        _ = state.withLock { $0.timeouts.removeValue(forKey: key) }
    }

    /// Ends the thread; jobs still waiting for it move to the global executor.
    func stop() {
        state.withLock { $0.stopped = true }
        wake()
    }

    // MARK: TaskExecutor

    /// Runs `job` on the thread, between two polls; after ``stop()``, on the global executor.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let accepted = state.withLock { state in
            guard !state.stopped else { return false }
            state.jobs.append(job)
            return true
        }
        if accepted {
            wake()
        } else {
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
        }
    }

    private var onThread: Bool { thread.load(ordering: .relaxed) == UInt(pthread_self()) }

    /// Whether the caller is the poller's own thread (running a task of the executor's, say).
    var isCurrentThread: Bool { onThread }

    /// Interrupts the thread's `poll(2)`, unless this is the thread (it looks again before it sleeps).
    private func wake() {
        guard !onThread else { return }
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    private func runJobs() {
        let jobs = state.withLock { state in
            defer { state.jobs.removeAll(keepingCapacity: true) }
            return state.jobs
        }
        for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
    }

    private func finish() {
        let jobs = state.withLock { state in
            state.stopped = true
            state.handlers = nil
            defer { state.jobs = [] }
            return state.jobs
        }
        for job in jobs { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
    }

    // MARK: The thread

    /// The thread's name, as `top -H`, gdb and /proc/PID/task/*/comm show it.
    static let threadName = "quiesce-bus"

    private func loop() {
        thread.store(UInt(pthread_self()), ordering: .relaxed)
        defer { finish() }
        while true {
            let now = ContinuousClock.now
            typealias Plan = (handlers: Handlers, watches: [Watch], due: [UInt], next: ContinuousClock.Instant?, jobs: Bool)
            let plan: Plan? = state.withLock { state in
                guard !state.stopped, let handlers = state.handlers else { return nil }
                var due: [UInt] = []
                for (key, timeout) in state.timeouts where timeout.due <= now {
                    due.append(key)
                    state.timeouts[key]?.due = now + timeout.interval
                }
                // With no timeout left, keep the last deadline (if still ahead) for a moment
                // rather than sleep for ever: the next call of a burst then has a later timeout
                // and needs no wake-up. Kept at most half a second, so the one spurious wake-up
                // this costs comes at the tail of the activity, never into an idle minute (a
                // call's 25 s deadline kept whole woke every idle agent once, 25 s after its
                // last call).
                let kept = state.sleepingUntil.flatMap { $0 > now ? min($0, now + Self.keptDeadline) : nil }
                let next = state.timeouts.values.map(\.due).min() ?? kept
                state.sleepingUntil = next
                return (handlers, state.watches.values.filter(\.enabled), due, next, !state.jobs.isEmpty)
            }
            guard let plan else { return }
            for key in plan.due { plan.handlers.timeoutDue(key) }
            if !plan.due.isEmpty {
                runJobs()
                continue
            }

            var descriptors = [pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)]
            for watch in plan.watches {
                var events: Int32 = 0
                if watch.flags & QDBUS_WATCH_READABLE != 0 { events |= POLLIN }
                if watch.flags & QDBUS_WATCH_WRITABLE != 0 { events |= POLLOUT }
                descriptors.append(pollfd(fd: watch.descriptor, events: Int16(events), revents: 0))
            }
            // With jobs waiting, only look: they run right after.
            let wait = plan.jobs ? 0 : plan.next.map { Self.milliseconds(until: $0, from: now) } ?? -1
            if poll(&descriptors, nfds_t(descriptors.count), wait) < 0 {
                let code = errno
                if code == EINTR { continue }
                // Nothing more can be read or sent: say so, so calls waiting fail at once and
                // the owner sees a disconnection, instead of a loop that ended without a word.
                plan.handlers.failed("poll failed: \(String(cString: strerror(code)))")
                return
            }
            if descriptors[0].revents != 0 {
                var drained: UInt64 = 0
                _ = read(wakeDescriptor, &drained, MemoryLayout<UInt64>.size)
            }
            for (index, watch) in plan.watches.enumerated() {
                let revents = Int32(descriptors[index + 1].revents)
                guard revents != 0 else { continue }
                if revents & POLLNVAL != 0 {
                    // The descriptor is gone under us: stop watching it rather than spin.
                    removeWatch(watch.key)
                    continue
                }
                var flags: UInt32 = 0
                if revents & POLLIN != 0 { flags |= QDBUS_WATCH_READABLE }
                if revents & POLLOUT != 0 { flags |= QDBUS_WATCH_WRITABLE }
                if revents & POLLERR != 0 { flags |= QDBUS_WATCH_ERROR }
                if revents & POLLHUP != 0 { flags |= QDBUS_WATCH_HANGUP }
                plan.handlers.watchReady(watch.key, flags)
                if flags & (QDBUS_WATCH_ERROR | QDBUS_WATCH_HANGUP) != 0 {
                    // libdbus disconnects and removes the watch; if it did not, do not spin on it.
                    state.withLock { state in
                        guard let current = state.watches[watch.key] else { return }
                        state.watches[watch.key] = Watch(key: current.key, descriptor: current.descriptor, flags: current.flags, enabled: false)
                    }
                }
            }
            // A reply just handled resumed its caller here: it runs now, and usually sends its
            // next call before the thread sleeps again.
            runJobs()
        }
    }

    /// How long a deadline outlives the last timeout (see the loop).
    static let keptDeadline = Duration.milliseconds(500)

    /// poll(2)'s timeout for `deadline`: rounded up, so a timeout never fires early.
    private static func milliseconds(until deadline: ContinuousClock.Instant, from now: ContinuousClock.Instant) -> Int32 {
        let (seconds, attoseconds) = now.duration(to: deadline).components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(0, milliseconds))
    }
}
