import Dispatch
public import Logging
public import QuiesceCore
public import QuiesceStore
import Synchronization

/// Copies queued jobs into the NAS root, a few at a time.
///
/// - Claims only through `claims` (the coordinator's gate): claiming and counting the job in flight
///   happen under the gate's lock, so once draining starts nothing new is claimed, and what was
///   claimed is already counted.
/// - ``inFlight`` is its work source for the coordinator: it signals every change, so a quit
///   proceeds the moment the last copy ends.
/// - Waits without polling: an enqueue (``wake()``) or the earliest retry time wakes it. Only
///   while jobs wait for a NAS root that is missing (or, with `requireMount`, not mounted) does it
///   look again, every `rootRecheck` (10 s); those jobs stay queued and count no attempt.
/// - Stopping aborts copies still running (after a force); their jobs return to the queue as they
///   were and their partial files are removed.
///
/// Copies run on a dispatch queue of their own: they block in `read`, `write` and `fsync`, which
/// must not happen on Swift's cooperative thread pool.
public final class SyncWorker: Component, Sendable {
    public let name = "sync"
    /// In-flight copies: the coordinator's work source "sync".
    public let inFlight = WorkCounter(name: "sync", blocksSleep: true)

    private struct Settings {
        var nasRoot: String?
        var retry: RetryPolicy
        /// The user paused sync: nothing new is claimed; copies under way finish.
        var paused = false
    }

    private struct RunState {
        var loops: [Task<Void, Never>] = []
        var aborts: [Int64: AbortFlag] = [:]
        var stopping = false
    }

    private let store: Store
    private let claims: Gate
    private let concurrency: Int
    private let retention: Duration
    private let logger: Logger
    private let settings: Mutex<Settings>
    private let run = Mutex(RunState())
    private let wakeup = Wakeup()
    private let copies = DispatchQueue(label: "io.github.quiesce.sync.copy", attributes: .concurrent)
    private let requireMount: Bool
    /// How often jobs waiting for the NAS root look for it again.
    private let rootRecheck: Duration
    private let localDirectory: String?
    /// Why the NAS root cannot take copies now (nil: it can).
    private let rootProblem = Mutex<CopyError?>(nil)
    private let waitingFeed: AsyncStream<Void>.Continuation
    /// Yields whenever ``waitingReason`` may have changed (the NAS root went or came back).
    public let waitingChanges: AsyncStream<Void>

    /// - Parameters:
    ///   - store: the queue.
    ///   - nasRoot: where copies go; `nil` until configured (jobs wait, ``waitingReason`` says why).
    ///   - concurrency: how many copies run at once.
    ///   - claims: the coordinator's claim gate (`Gate(name: "claims", open: true)` standalone).
    ///   - retry: backoff after failures.
    ///   - retention: how long done and cancelled jobs are kept before pruning.
    ///   - requireMount: copy only while the NAS root is on a filesystem of its own, neither `/`'s
    ///     nor `localDirectory`'s (`sync.require_mount`).
    ///   - localDirectory: the agent's own state directory, on the local disk.
    ///   - rootRecheck: how often jobs waiting for a missing or unmounted root look for it again.
    ///   - paused: start paused (the user paused sync before the last stop).
    public init(
        store: Store, nasRoot: String?, concurrency: Int = 2, claims: Gate, retry: RetryPolicy = RetryPolicy(),
        retention: Duration = .seconds(7 * 24 * 3600), requireMount: Bool = false, localDirectory: String? = nil,
        rootRecheck: Duration = .seconds(10), paused: Bool = false, logger: Logger
    ) {
        self.requireMount = requireMount
        self.rootRecheck = rootRecheck
        self.localDirectory = localDirectory
        (waitingChanges, waitingFeed) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.store = store
        self.claims = claims
        self.concurrency = max(1, concurrency)
        self.retention = retention
        self.logger = logger
        self.settings = Mutex(Settings(nasRoot: nasRoot, retry: retry, paused: paused))
    }

    /// Why queued jobs are not moving, when the reason is the user's pause, the configuration or
    /// the NAS root.
    public var waitingReason: String? {
        if settings.withLock({ $0.paused }) { return "sync is paused; agentctl sync resume (or the tray's Resume sync) copies again" }
        if settings.withLock({ $0.nasRoot == nil }) { return CopyError.nasRootNotConfigured.description }
        return rootProblem.withLock { $0?.description }
    }

    /// The NAS root copies go into, `nil` until configured.
    public var nasRoot: String? { settings.withLock { $0.nasRoot } }

    /// Changes the NAS root (a configuration reload); `nil` pauses copying.
    public func setNASRoot(_ path: String?) {
        settings.withLock { $0.nasRoot = path }
        noteRoot(nil)
        wake()
    }

    /// Records whether the root can take copies, saying so in the log and to ``waitingChanges``
    /// when that changes.
    private func noteRoot(_ problem: CopyError?) {
        let previous = rootProblem.withLock { state in
            defer { state = problem }
            return state
        }
        guard previous != problem else { return }
        if let problem {
            logger.warning("sync jobs wait: \(problem)")
        } else if previous != nil {
            logger.notice("the NAS root is back; copying resumes")
        }
        waitingFeed.yield()
    }

    /// The root's state now, recorded.
    private func checkRoot(_ root: String) -> CopyError? {
        let problem = NASRoot(path: root).unavailability(requireMount: requireMount, localDirectory: localDirectory)
        noteRoot(problem)
        return problem
    }

    /// Whether sync is paused.
    public var isPaused: Bool { settings.withLock { $0.paused } }

    /// Pauses or resumes claiming. Paused, nothing new is claimed; copies under way finish (they
    /// are the work a quit waits for anyway). Resumed, the queue moves again at once.
    public func setPaused(_ paused: Bool) {
        let changed = settings.withLock { settings in
            defer { settings.paused = paused }
            return settings.paused != paused
        }
        guard changed else { return }
        logger.notice(paused ? "sync paused: nothing new is copied until it is resumed" : "sync resumed")
        waitingFeed.yield()
        wake()
    }

    /// Changes the retry policy (a configuration reload).
    public func setRetryPolicy(_ policy: RetryPolicy) {
        settings.withLock { $0.retry = policy }
    }

    /// There may be new work: jobs were enqueued or retried.
    public func wake() {
        wakeup.wake()
    }

    /// Takes back what a crashed run left in flight, removes its partial files, prunes old
    /// finished jobs, and starts the copy loops.
    public func start() async throws {
        let recovered = try store.recoverInterruptedJobs()
        if !recovered.isEmpty {
            logger.notice("returned \(recovered.count) interrupted copies to the queue")
            if let root = settings.withLock({ $0.nasRoot }) {
                let nas = NASRoot(path: root)
                for job in recovered {
                    nas.removePartial(name: job.fileName, destination: job.destination)
                }
            }
        }
        let pruned = try store.pruneFinished(olderThan: retention)
        if pruned > 0 { logger.info("pruned \(pruned) finished jobs older than the retention period") }
        let loops = (0..<concurrency).map { _ in Task { await self.loop() } }
        run.withLock { $0.loops = loops }
    }

    /// Stops the loops. Copies still running are aborted and their jobs requeued.
    public func stop() async throws {
        let (loops, aborts) = run.withLock { state in
            state.stopping = true
            return (state.loops, Array(state.aborts.values))
        }
        for abort in aborts { abort.raise() }
        for loop in loops { loop.cancel() }
        wakeup.wake()
        for loop in loops { await loop.value }
    }

    // MARK: The copy loop

    private func loop() async {
        while !Task.isCancelled {
            let seen = wakeup.generation
            do {
                try await claims.waitUntilOpen()
            } catch {
                return
            }
            guard let root = settings.withLock({ $0.paused ? nil : $0.nasRoot }) else {
                // Paused, or no root configured: only a resume or a reload moves the queue.
                await wakeup.wait(after: seen, timeout: nil)
                continue
            }
            if checkRoot(root) != nil {
                // Nothing is claimed, so no job counts an attempt. Look again while jobs wait
                // (an enqueue or a reload wakes us sooner); with none queued, only a wake does.
                await wakeup.wait(after: seen, timeout: timeUntilNextAttempt().map { max($0, rootRecheck) })
                continue
            }
            let claimed: (JobRecord, WorkCounter.Token)?
            do {
                claimed = try claims.admit { () throws -> (JobRecord, WorkCounter.Token)? in
                    guard !run.withLock({ $0.stopping }), !settings.withLock({ $0.paused }),
                        let job = try store.claim(limit: 1).first
                    else { return nil }
                    return (job, inFlight.begin(Self.label(of: job)))
                }
            } catch is GateClosed {
                continue
            } catch {
                logger.error("cannot claim sync jobs: \(error)")
                await wakeup.wait(after: seen, timeout: .seconds(5))
                continue
            }
            guard let (job, token) = claimed else {
                await wakeup.wait(after: seen, timeout: timeUntilNextAttempt())
                continue
            }
            await copy(job, into: root)
            inFlight.end(token)
        }
    }

    private func timeUntilNextAttempt() -> Duration? {
        guard let next = try? store.nextAttemptTime() else { return nil }
        return .milliseconds(max(1, next - store.nowMilliseconds))
    }

    private func copy(_ job: JobRecord, into root: String) async {
        let abort = AbortFlag()
        let stopping = run.withLock { state in
            state.aborts[job.id] = abort
            return state.stopping
        }
        if stopping { abort.raise() }
        let copier = FileCopier(root: NASRoot(path: root))
        let result: Result<CopyResult, CopyError> = await withCheckedContinuation { continuation in
            copies.async {
                continuation.resume(returning: Result { () throws(CopyError) -> CopyResult in
                    try copier.copy(source: job.source, destination: job.destination, abort: abort)
                })
            }
        }
        run.withLock { _ = $0.aborts.removeValue(forKey: job.id) }
        record(result, for: job, root: root)
    }

    /// Writes the outcome of a copy to the queue before the job stops counting as in flight.
    private func record(_ result: Result<CopyResult, CopyError>, for job: JobRecord, root: String) {
        do {
            switch result {
            case .success(let copied):
                try store.complete(id: job.id, size: copied.size, checksum: copied.checksum)
                logger.info("copied \(job.source) into \(job.destination.isEmpty ? "the NAS root" : job.destination) (\(copied.size) bytes, \(copied.checksum))")
            case .failure(.aborted):
                try store.requeue(id: job.id)
                logger.notice("copy of \(job.source) stopped; job \(job.id) is back in the queue")
            case .failure(let error) where checkRoot(root) != nil:
                // The root went away under the copy: the job waits with the others, uncounted.
                // (Only when the root is really gone: otherwise a retry at once could spin.)
                try store.postpone(id: job.id, reason: error.description)
                logger.notice("copy of \(job.source) stopped, the NAS root went away; job \(job.id) waits for it")
            case .failure(let error):
                let policy = settings.withLock { $0.retry }
                let updated = try store.recordFailure(id: job.id, error: error.description, retryable: error.isRetryable, policy: policy)
                if updated.state == .failed {
                    logger.error("job \(job.id) failed: \(error)")
                } else {
                    let wait = Duration.milliseconds(max(0, updated.nextAttemptAt - store.nowMilliseconds))
                    logger.warning("job \(job.id) will be retried in \(wait.quiesceFormatted): \(error)")
                }
            }
        } catch {
            // The queue could not record the outcome: the job stays in flight under this run's
            // lease, and the next start returns it to the queue. Nothing is lost.
            logger.error("cannot record the outcome of job \(job.id): \(error)")
        }
    }
}

extension SyncWorker {
    /// A copy in the words the prompt, the logout dialog and `agentctl quit` show a person:
    /// "copying IMG_0042.raw to shoots" — the file's name, not its whole path.
    static func label(of job: JobRecord) -> String {
        let name = job.source.split(separator: "/").last.map(String.init) ?? job.source
        return "copying \(name) to \(job.destination.isEmpty ? "the NAS root" : job.destination)"
    }
}
