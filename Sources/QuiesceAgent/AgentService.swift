import Foundation
import Logging
public import QuiesceCore
import QuiesceCopy
import QuiesceDBus
import QuiesceInterface
import QuiesceStore
import QuiesceSync
import QuiesceThreads
import Synchronization

/// `io.github.quiesce.Agent1` on the session bus: the methods of the brief, answered from the
/// store, the session registry and the coordinator. A component: it takes the bus name when it
/// starts (after the store and before the worker) and gives it back when it stops.
///
/// Every call is checked: the caller must be the user the agent runs as (`AccessDenied`
/// otherwise), and arguments are validated before anything is written, so bad input gets a named
/// error and changes nothing.
public final class AgentService: Component, Sendable {
    public let name = "dbus"
    let connection: BusConnection
    let store: Store
    let sessions: SessionRegistry
    let worker: SyncWorker
    let coordinator: ShutdownCoordinator<ContinuousClock>
    let terminal: ExternalPrompt
    let board: StatusBoard
    let logger: Logger
    /// What the bus says of each caller (unique name → uid, pid): asked once, when the caller is
    /// first seen (reading a property, as `agentctl` does before it calls), and forgotten when it
    /// leaves the bus. A lookup under way is shared by the calls that need it.
    private let callers = Mutex<[String: Task<BusConnection.Credentials, any Error>]>([:])
    /// Callers of another uid refused so far, so each is logged once.
    private let refused = Mutex<Set<String>>([])
    /// Whether a job-count refresh is under way, and whether another change came meanwhile.
    private let jobCountRefresh = Coalescer(pause: .milliseconds(250))
    /// Connections that asked to answer the prompt (`Quit` with `interactive`).
    private let terminals = Mutex<Set<String>>([])
    /// Set once the service has stopped: the object stays on the bus until the connection closes,
    /// answering ShuttingDown, so a call already on its way never meets "no object at …".
    private let stopped = Mutex(false)
    /// Folder walks under way (`Enqueue` with `recursive`), stopped between two batches when the
    /// service stops.
    private let walks = Mutex<[ObjectIdentifier: AbortFlag]>([:])
    private let ownUID = getuid()
    /// Open once the start has ended (running, or a stop begun): the name is taken before the
    /// last components start, and a call the bus queued for an activated agent must not be
    /// refused as if the agent were shutting down.
    private let startEnded = Latch()

    /// Longest label a session may have, in bytes; longer ones are refused.
    static let maximumLabelBytes = 1024
    /// Most files one `Enqueue` may carry.
    static let maximumBatch = 100_000

    init(
        connection: BusConnection, coordinator: ShutdownCoordinator<ContinuousClock>, store: Store, sessions: SessionRegistry,
        worker: SyncWorker, terminal: ExternalPrompt, board: StatusBoard, logger: Logger
    ) {
        self.connection = connection
        self.coordinator = coordinator
        self.store = store
        self.sessions = sessions
        self.worker = worker
        self.terminal = terminal
        self.board = board
        self.logger = logger
    }

    public func start() async throws {
        try connection.export(object())
        try await claimName()
    }

    /// Takes the bus name, do-not-queue: the one place that finds another agent of this user on
    /// this bus, and says which pid it is.
    private func claimName() async throws {
        switch try await connection.requestName(AgentInterface.busName) {
        case .primaryOwner, .alreadyOwner:
            board.markExported()
        case .exists, .inQueue:
            connection.unexport(path: AgentInterface.path)
            var pid: UInt32?
            if let owner = try? await connection.nameOwner(AgentInterface.busName) {
                pid = try? await connection.credentials(of: owner).pid
            }
            throw AgentStartError.alreadyRunning(pid: pid)
        }
    }

    /// Refuses what still arrives, gives up the name (new calls find no agent, and `agentctl quit`
    /// sees it go), and waits until every call already taken in has its reply on its way — the
    /// `Quit` that started all this among them: the process must not exit before answering it.
    /// The object is not unexported: a call routed to us before the name went would otherwise get
    /// UnknownObject, which says nothing useful. The release is not waited for: the bus handles it
    /// before the connection's closing, whatever its answer.
    public func stop() async throws {
        stopped.withLock { $0 = true }
        for walk in walks.withLock({ Array($0.values) }) { walk.raise() }
        // Clients following a quit read the outcome before the agent leaves the bus: announced
        // here, not left to the task that announces events, which may not have come to it yet.
        if let outcome = coordinator.outcome { board.announce(outcome) }
        // The name is kept until the connection closes, after the store has (Agent.run): a client
        // that sees it go may start the next agent at once, and that one must find the database
        // free. Released here, it went before the store closed, and answering the bus's
        // NameLost and NameOwnerChanged held up the rest of the quit (0.2–0.4 ms).
        await connection.handlersFinished()
    }

    /// A client left the bus: forget it, and end what it held.
    func clientVanished(_ name: String) {
        callers.withLock { _ = $0.removeValue(forKey: name) }
        refused.withLock { _ = $0.remove(name) }
        if terminals.withLock({ $0.remove(name) }) != nil { terminal.detach() }
        sessions.clientVanished(name)
    }

    // MARK: The object

    /// The object as exported: each method of the interface XML with its handler, names and
    /// signatures from the generated `AgentInterface` (see ``MethodTable``).
    private func object() throws(AgentStartError) -> ExportedObject {
        let handlers: [AgentInterface.Method: MethodTable.Handler] = [
            .quit: { call in try await self.quit(call) },
            .openSession: { call in try await self.openSession(call) },
            .closeSession: { call in try self.closeSession(call) },
            .listSessions: { call in try self.listSessions(call) },
            .enqueue: { call in try await self.enqueue(call) },
            .listJobs: { call in try self.listJobs(call) },
            .changeJob: { call in try self.changeJob(call) },
            .answer: { call in try self.answer(call) },
            .pauseSync: { _ in try self.setSyncPaused(true) },
            .resumeSync: { _ in try self.setSyncPaused(false) },
        ]
        let methods = try MethodTable.methods(handlers.mapValues(guarded))
        return ExportedObject(
            path: AgentInterface.path,
            interfaces: [DBusInterface(AgentInterface.interface, methods: methods, properties: try board.properties())],
            introspectionXML: AgentInterface.introspectionXML,
            callerSeen: { [weak self] sender in _ = self?.lookUp(sender) })
    }

    /// A handler whose caller is checked first, and whose errors become the agent's D-Bus errors.
    private func guarded(_ body: @escaping MethodTable.Handler) -> MethodTable.Handler {
        { call in
            do {
                try await self.checkCaller(call.sender)
                if self.stopped.withLock({ $0 }) { throw Self.closed }
                return try await body(call)
            } catch let error as AgentError {
                throw error.dbusError
            } catch let error as DBusError {
                throw error
            } catch is GateClosed {
                throw Self.closed.dbusError
            } catch let error as StoreError {
                throw Self.translate(error).dbusError
            } catch {
                throw DBusError(name: .failed, message: "\(error)")
            }
        }
    }

    /// The caller's credentials, once it is known to be our user.
    @discardableResult
    private func checkCaller(_ sender: String) async throws -> BusConnection.Credentials {
        let lookup = lookUp(sender)
        let credentials: BusConnection.Credentials
        do {
            credentials = try await lookup.value
        } catch {
            // Asked again by the next call (the bus may have been busy).
            callers.withLock { if $0[sender] == lookup { $0[sender] = nil } }
            throw error
        }
        guard credentials.uid == ownUID else {
            if refused.withLock({ $0.insert(sender).inserted }) {
                logger.warning("refused a call from \(sender), uid \(credentials.uid): the agent serves uid \(ownUID) only")
            }
            throw Self.denied
        }
        return credentials
    }

    /// The lookup of `sender`'s credentials: the one made or under way, or a new one.
    private func lookUp(_ sender: String) -> Task<BusConnection.Credentials, any Error> {
        callers.withLock { callers in
            if let known = callers[sender] { return known }
            // Sent from here (the connection's queue, as the caller's first message is read): it
            // leaves at once instead of when a task started for it runs, so a client that sends
            // `GetAll` and `Quit` together (agentctl quit) finds it answered, or nearly.
            let lookup = connection.credentialsLookup(of: sender)
            callers[sender] = lookup
            return lookup
        }
    }

    private static let closed = AgentError.shuttingDown("the agent is shutting down and takes no new work; try again once it has restarted")
    private static let denied = AgentError.accessDenied("this agent belongs to another user; only its own user may call it")

    static func translate(_ error: StoreError) -> AgentError {
        switch error {
        case .notFound(let what): .notFound(error.description.isEmpty ? what : error.description)
        case .invalidArgument(let message): .invalidArgument(message)
        case .closed: .shuttingDown(error.description)
        default: .storageFailed(error.description)
        }
    }

    // MARK: Methods

    private func quit(_ call: MethodCall) async throws -> [DBusValue] {
        let options = try Self.options(call.arguments[0], allowed: ["force": "b", "timeout": "u", "interactive": "b"])
        if options["interactive"]?.bool == true {
            if terminals.withLock({ $0.insert(call.sender).inserted }) { terminal.attach() }
        }
        let trigger: Trigger
        if options["force"]?.bool == true {
            trigger = .force
        } else if let timeout = options["timeout"]?.uint32 {
            trigger = .request(timeout: .seconds(Int(timeout)))
        } else {
            trigger = .request()
        }
        let response = await coordinator.trigger(trigger)
        logger.info("Quit from \(call.sender): \(trigger) → \(response.effect)")
        return []
    }

    /// The start has ended (the agent runs, or a stop began before it did): sessions asked for
    /// meanwhile are now admitted or refused.
    func startHasEnded() {
        startEnded.open()
    }

    private func openSession(_ call: MethodCall) async throws -> [DBusValue] {
        let label = call.arguments[0].string ?? ""
        try Self.checkLabel(label)
        let options = try Self.options(call.arguments[1], allowed: ["bind": "b"])
        let bound = options["bind"]?.bool ?? true
        // Asked already by the caller check: cached, no second round trip to the bus.
        let credentials = try await checkCaller(call.sender)
        let owner = SessionOwner(uid: credentials.uid, pid: credentials.pid ?? 0, connection: bound ? call.sender : nil)
        await startEnded.wait()
        let session = try sessions.open(label: label, bound: bound, owner: owner)
        // A client that left between its call and now would never be seen leaving.
        if bound, (try? await connection.nameOwner(call.sender)) == nil {
            sessions.clientVanished(call.sender)
        }
        return [.string(session.id)]
    }

    private func closeSession(_ call: MethodCall) throws -> [DBusValue] {
        let id = call.arguments[0].string ?? ""
        guard !id.isEmpty, id.utf8.count <= 128 else { throw AgentError.notFound("no open session has the id \"\(id.prefix(64))\"; agentctl session list shows them") }
        do {
            try sessions.close(id: id)
        } catch {
            if case .notFound = error {
                throw AgentError.notFound("no open session has the id \(id); agentctl session list shows them")
            }
            throw error
        }
        return []
    }

    private func listSessions(_ call: MethodCall) throws -> [DBusValue] {
        let filter = try Self.options(call.arguments[0], allowed: ["limit": "u", "after": "s"])
        let limit = try Self.pageSize(filter["limit"])
        let after = filter["after"]?.string
        let sessions: [SessionRecord]
        do {
            sessions = try store.openSessions(limit: limit, after: after)
        } catch {
            guard case .notFound = error else { throw error }
            throw AgentError.invalidArgument("no session has the id \"\(after?.prefix(64) ?? "")\" given as after; list from the start")
        }
        let rows = sessions.map { session -> DBusValue in
            .structure([
                .string(session.id), .string(session.label), .string(session.owner.connection ?? ""), .boolean(session.bound),
                .int64(session.openedAt),
            ])
        }
        return [.array(element: "(sssbx)", rows)]
    }

    private func enqueue(_ call: MethodCall) async throws -> [DBusValue] {
        let sources = call.arguments[0].strings ?? []
        let destination = call.arguments[1].string ?? ""
        let options = try Self.options(call.arguments[2], allowed: ["recursive": "b"])
        let recursive = options["recursive"]?.bool ?? false
        guard !sources.isEmpty else { throw AgentError.invalidArgument("no files to copy were given") }
        guard sources.count <= Self.maximumBatch else {
            throw AgentError.invalidArgument("\(sources.count) files in one call; send at most \(Self.maximumBatch) at a time")
        }
        // Not through the admission gate (rule 1): a queued job is durable and waits while the agent
        // drains, and a batch ending in an fsync must not hold the gate's lock, which the
        // coordinator takes to start a drain — a quit would wait on the disk. Looking at the
        // sources and walking folders block: on a thread of their own, never the pool.
        let abort = AbortFlag()
        let key = ObjectIdentifier(abort)
        walks.withLock { $0[key] = abort }
        defer { walks.withLock { _ = $0.removeValue(forKey: key) } }
        if stopped.withLock({ $0 }) { abort.raise() }
        let caller = call.sender
        let intake = EnqueueIntake(store: store, abort: abort) { [connection] progress in
            // The counts the tray and agentctl status show follow a long walk.
            if !progress.finished { self.refreshJobCounts() }
            guard !caller.isEmpty else { return }
            let skipped = progress.skippedNow.map { DBusValue.structure([.string($0.path), .string($0.reason)]) }
            try? connection.send(DBusMessage.signal(
                path: AgentInterface.path, interface: AgentInterface.interface, member: AgentInterface.Signal.enqueueProgress.name,
                arguments: [
                    .uint64(UInt64(progress.queued)), .uint64(UInt64(progress.skipped)), .boolean(progress.finished),
                    .array(element: "(ss)", skipped),
                ],
                destination: caller))
        }
        let result: Result<(ids: [Int64], skipped: Int), any Error> = await DetachedThread.run(name: "quiesce-enqueue") {
            Result { try intake.run(try EnqueueIntake.classify(sources, recursive: recursive), destination: destination) }
        }
        // Also after a failure: a walk cut short keeps the transactions it committed.
        worker.wake()
        refreshJobCounts()
        let (ids, skipped) = try result.get()
        logger.info("queued \(ids.count) file(s) for \(destination.isEmpty ? "the NAS root" : destination)\(skipped > 0 ? ", \(skipped) skipped" : "")")
        return [.array(element: "t", ids.map { .uint64(UInt64($0)) })]
    }

    private func listJobs(_ call: MethodCall) throws -> [DBusValue] {
        let filter = try Self.options(call.arguments[0], allowed: ["state": "*", "limit": "u", "before": "t"])
        var states = Set(JobState.allCases)
        if let value = filter["state"] {
            let names = value.string.map { [$0] } ?? value.strings
            guard let names, !names.isEmpty else { throw AgentError.invalidArgument("state must be a string or a list of strings") }
            states = []
            for name in names {
                guard let state = JobState(rawValue: name) else {
                    throw AgentError.invalidArgument("unknown job state \"\(name.prefix(64))\"; use queued, in_flight, done, failed or cancelled")
                }
                states.insert(state)
            }
        }
        let limit = try Self.pageSize(filter["limit"])
        let before = filter["before"]?.uint64.map { Int64(clamping: $0) }
        let rows = try store.jobs(states: states, limit: limit, newestFirst: true, before: before).map { job -> DBusValue in
            .structure([
                .uint64(UInt64(job.id)), .string(job.source), .string(job.destination), .string(job.state.rawValue),
                .uint32(UInt32(clamping: job.attempts)), .string(job.lastError ?? ""), .int64(job.state == .queued ? job.nextAttemptAt : 0),
                .string(job.state == .done ? job.outcome ?? "copied" : ""), .string(job.landedName ?? ""),
            ])
        }
        return [.array(element: "(tsssusxss)", rows)]
    }

    /// A list's page: 100 rows unless the caller says otherwise, at most ``maximumPage`` (a reply
    /// must stay far below the bus's message limit, and a GUI pages anyway).
    private static func pageSize(_ value: DBusValue?) throws -> Int {
        let limit = Int(value?.uint32 ?? 100)
        guard limit <= maximumPage else {
            throw AgentError.invalidArgument("limit \(limit) is over \(maximumPage) a page; ask for more pages (after or before the last of this one)")
        }
        return limit
    }

    static let maximumPage = 10_000

    private func changeJob(_ call: MethodCall) throws -> [DBusValue] {
        let id = Int64(clamping: call.arguments[0].uint64 ?? 0)
        switch call.arguments[1].string ?? "" {
        case "retry": try store.retry(id: id)
        case "cancel": try store.cancel(id: id)
        case let other: throw AgentError.invalidArgument("unknown action \"\(other.prefix(64))\"; use retry or cancel")
        }
        worker.wake()
        refreshJobCounts()
        return []
    }

    private func answer(_ call: MethodCall) throws -> [DBusValue] {
        let answer: PromptAnswer
        switch call.arguments[0].string ?? "" {
        case "force": answer = .force
        case "wait": answer = .wait
        case let other: throw AgentError.invalidArgument("unknown decision \"\(other.prefix(64))\"; use force or wait")
        }
        guard terminal.answer(answer) else {
            throw AgentError.notFound("nothing is being asked now; the prompt shows only when a quit window runs out")
        }
        return []
    }

    /// `PauseSync` / `ResumeSync`: recorded first (a pause survives a crash), then applied.
    /// Paused, the worker claims nothing new and copies under way finish; a quit is unaffected.
    func setSyncPaused(_ paused: Bool) throws -> [DBusValue] {
        try store.setSyncPaused(paused)
        worker.setPaused(paused)
        board.update { $0.syncPaused = paused }
        readJobCounts()
        return []
    }

    /// The job counts may have changed (a copy started or ended, jobs were queued): re-reads them
    /// for the properties, at once, and then at most every 250 ms while changes keep coming.
    ///
    /// Counting is a scan of the state index (6.6 ms at 100,000 jobs) under the store's lock, which
    /// the copy loops need too: one count per copy started and per copy ended would take more of
    /// that lock than the copies themselves. Nothing runs when nothing changes.
    func refreshJobCounts() {
        jobCountRefresh.request { self.readJobCounts() }
    }

    /// Reads the job counts into the properties now.
    func readJobCounts() {
        guard let counts = try? store.jobCounts() else { return }
        let waiting = worker.waitingReason ?? ""
        board.update { values in
            values.queuedJobs = counts.queued
            values.failedJobs = counts.failed
            values.syncWaiting = counts.queued > 0 ? waiting : ""
        }
    }

    // MARK: Argument checks

    /// An `a{sv}`'s entries, with each allowed key's type checked ("*" takes any type).
    static func options(_ value: DBusValue, allowed: [String: String]) throws -> [String: DBusValue] {
        guard let options = value.vardict else { throw AgentError.invalidArgument("options must be a{sv}") }
        for (key, value) in options {
            guard let signature = allowed[key] else {
                let known = allowed.keys.sorted().joined(separator: ", ")
                throw AgentError.invalidArgument("unknown option \"\(key.prefix(64))\"\(known.isEmpty ? "; this method takes none" : "; known: \(known)")")
            }
            guard signature == "*" || value.signature == signature else {
                throw AgentError.invalidArgument("option \(key) must be of type \(signature), not \(value.signature)")
            }
        }
        return options
    }

    static func checkLabel(_ label: String) throws {
        guard !label.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw AgentError.invalidArgument("a session needs a label that says what it is (for the prompt)")
        }
        guard label.utf8.count <= maximumLabelBytes else {
            throw AgentError.invalidArgument("the label is \(label.utf8.count) bytes long; keep it under \(maximumLabelBytes)")
        }
    }
}
