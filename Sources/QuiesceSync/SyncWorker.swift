import Glibc
public import Logging
public import QuiesceCopy
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
/// Everything that touches the NAS goes through the ``Copier``: in the agent a `quiesce-copy`
/// child per request, so a NAS that stops answering holds a child, never the agent; a root check
/// that gets no answer within `rootCheckTimeout` says the NAS is not answering. Two copies of the
/// same name into the same directory never run at once (they would share a partial file).
public final class SyncWorker: Component, Sendable {
    public let name = "sync"
    /// In-flight copies: the coordinator's work source "sync".
    public let inFlight = WorkCounter(name: "sync", blocksSleep: true)

    private struct Settings {
        var nasRoot: String?
        var onConflict: ConflictPolicy
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
    private let copier: Copier
    private let host: String
    /// Destination paths being copied now (see the type's comment).
    private let busyNames = KeyedLock()
    private let requireMount: Bool
    /// How often jobs waiting for the NAS root look for it again.
    private let rootRecheck: Duration
    /// How long a look at the root may take before the NAS counts as not answering.
    private let rootCheckTimeout: Duration
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
    ///   - copier: how copies run (``Copier/process(executable:grace:)`` in the agent).
    ///   - onConflict: what to do when a copy's name is taken by a file this agent did not write.
    ///   - host: the name conflict copies carry (the machine's by default).
    ///   - rootCheckTimeout: how long a look at the root may take (honoured by a copier process).
    public init(
        store: Store, nasRoot: String?, concurrency: Int = 2, claims: Gate, retry: RetryPolicy = RetryPolicy(),
        retention: Duration = .seconds(7 * 24 * 3600), requireMount: Bool = false, localDirectory: String? = nil,
        rootRecheck: Duration = .seconds(10), paused: Bool = false, copier: Copier = .inProcess,
        onConflict: ConflictPolicy = .keepBoth, host: String? = nil, rootCheckTimeout: Duration = .seconds(10), logger: Logger
    ) {
        self.requireMount = requireMount
        self.rootRecheck = rootRecheck
        self.rootCheckTimeout = rootCheckTimeout
        self.copier = copier
        self.host = host ?? Self.hostName()
        self.localDirectory = localDirectory
        (waitingChanges, waitingFeed) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.store = store
        self.claims = claims
        self.concurrency = max(1, concurrency)
        self.retention = retention
        self.logger = logger
        self.settings = Mutex(Settings(nasRoot: nasRoot, onConflict: onConflict, retry: retry, paused: paused))
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

    /// What a look at the root found.
    private enum RootLook {
        case fine
        /// Gone, unmounted, unreachable or not answering: jobs wait for it.
        case unavailable(CopyError)
        /// The look itself failed (the copier could not start, say): nothing is known.
        case unknown(CopyError)
    }

    /// The root's state now (looked at through the copier, so a hung NAS holds a child, not
    /// us), recorded when it is known.
    private func lookAtRoot(_ root: String) async -> RootLook {
        let reply = await copier.run(
            .check(root: root, requireMount: requireMount, localDirectory: localDirectory), abort: AbortFlag(),
            timeout: rootCheckTimeout)
        switch reply {
        case .failed(let error) where error.isNASUnavailable:
            noteRoot(error)
            return .unavailable(error)
        case .failed(let error):
            logger.warning("cannot look at the NAS root \(root): \(error)")
            return .unknown(error)
        case .fine, .copied:
            noteRoot(nil)
            return .fine
        }
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

    /// Changes what a copy does when its name is taken (a configuration reload).
    public func setConflictPolicy(_ policy: ConflictPolicy) {
        settings.withLock { $0.onConflict = policy }
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
        if !recovered.isEmpty { logger.notice("returned \(recovered.count) interrupted copies to the queue") }
        let pruned = try store.pruneFinished(olderThan: retention)
        if pruned > 0 { logger.info("pruned \(pruned) finished jobs older than the retention period") }
        // The interrupted copies' partial files go first (a copy removes its own anyway; these may
        // belong to jobs that will be cancelled), in one request, given at most
        // `partialRemovalTimeout`: a NAS that does not answer must not hold the start for long.
        if !recovered.isEmpty, let root = settings.withLock({ $0.nasRoot }) {
            let reply = await copier.run(
                .removePartials(root: root, recovered.map { PartialCopy(destination: $0.destination, name: $0.fileName) }),
                abort: AbortFlag(), timeout: Self.partialRemovalTimeout)
            if case .failed(let error) = reply {
                logger.notice("partial copies of interrupted jobs stay on the NAS for now (each goes when its job is copied again): \(error)")
            }
        }
        let loops = (0..<concurrency).map { _ in Task { await self.loop() } }
        run.withLock { $0.loops = loops }
    }

    /// How long the start waits for the interrupted copies' partial files to be removed.
    static let partialRemovalTimeout = Duration.seconds(2)

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
            if rootProblem.withLock({ $0 != nil }), case .unavailable = await lookAtRoot(root) {
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
        let key = job.destination.isEmpty ? job.fileName : "\(job.destination)/\(job.fileName)"
        await busyNames.lock(key)
        let previous = (try? store.landing(root: root, directory: job.destination, source: job.source))
            .flatMap { $0 }.map { Landing(name: $0.name, size: $0.size, checksum: $0.checksum, confirmed: $0.confirmed) }
        let request = CopyRequest(
            source: job.source, destination: job.destination, onConflict: settings.withLock { $0.onConflict }, previous: previous,
            tag: ConflictTag(host: host, date: Self.localDate(milliseconds: store.nowMilliseconds)))
        let reply = abort.isRaised
            ? .failed(.aborted)
            : await copier.run(
                .copy(root: root, request: request, requireMount: requireMount, localDirectory: localDirectory, kernelCopy: true),
                abort: abort)
        busyNames.unlock(key)
        run.withLock { _ = $0.aborts.removeValue(forKey: job.id) }
        let result: Result<CopyResult, CopyError> = switch reply {
        case .copied(let copied): .success(copied)
        case .failed(let error): .failure(error)
        case .fine: .failure(.copierFailed(reason: "it answered a copy as if it were a check"))
        }
        await record(result, for: job, root: root)
    }

    /// Writes the outcome of a copy to the queue before the job stops counting as in flight.
    private func record(_ result: Result<CopyResult, CopyError>, for job: JobRecord, root: String) async {
        // After a failure, a look at the root decides whose it was. Only a root that is gone (or
        // unmounted, unreachable, not answering) now makes the job wait uncounted: a failure the
        // look does not confirm is the job's, counted and backed off, so nothing can spin.
        var waitsForNAS: CopyError?
        if case .failure(let error) = result, error != .aborted {
            switch await lookAtRoot(root) {
            case .fine: waitsForNAS = nil
            case .unavailable(let problem): waitsForNAS = problem
            case .unknown:
                // The copy's own word, then: it had just looked at the root.
                waitsForNAS = error.isNASUnavailable ? error : nil
                if let waitsForNAS { noteRoot(waitsForNAS) }
            }
        }
        do {
            switch result {
            case .success(let copied):
                try store.complete(
                    id: job.id, size: copied.size, checksum: copied.checksum,
                    landedName: copied.name == job.fileName ? nil : copied.name, outcome: copied.outcome.rawValue, root: root)
                logger.info("\(Self.describe(copied, of: job)) (\(copied.size) bytes, \(copied.checksum))")
            case .failure(.aborted):
                try store.requeue(id: job.id)
                logger.notice("copy of \(job.source) stopped; job \(job.id) is back in the queue")
            case .failure(let error) where waitsForNAS != nil:
                try store.postpone(id: job.id, reason: (waitsForNAS ?? error).description)
                logger.notice("copy of \(job.source) waits for the NAS (\(error)); job \(job.id) is back in the queue, no attempt counted")
            case .failure(let error):
                if case .notDurable(_, _, let landed) = error {
                    // It has the name now and is ours: the retry may replace it.
                    try store.recordUnconfirmedLanding(
                        root: root, directory: job.destination, source: job.source, name: landed.name, size: landed.size,
                        checksum: landed.checksum)
                }
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
    /// What the log says a copy did.
    static func describe(_ copied: CopyResult, of job: JobRecord) -> String {
        let into = job.destination.isEmpty ? "the NAS root" : job.destination
        return switch copied.outcome {
        case .copied: "copied \(job.source) into \(into)"
        case .replaced: "copied \(job.source) into \(into), replacing its earlier copy"
        case .identical: "\(job.source) is already in \(into) as \(copied.name), byte for byte; nothing copied"
        case .keptBoth: "copied \(job.source) into \(into) as \(copied.name): a different file has its name there, and is kept"
        }
    }

    /// The machine's short name, for conflict names.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.split(separator: ".").first.map(String.init) ?? name
    }

    /// `YYYY-MM-DD` in local time.
    static func localDate(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
    }

    /// A copy in the words the prompt, the logout dialog and `agentctl quit` show a person:
    /// "copying IMG_0042.raw to shoots" — the file's name, not its whole path.
    static func label(of job: JobRecord) -> String {
        let name = job.source.split(separator: "/").last.map(String.init) ?? job.source
        return "copying \(name) to \(job.destination.isEmpty ? "the NAS root" : job.destination)"
    }
}
