public import Foundation
public import Logging
import QuiesceCopy
import QuiesceCore
import QuiesceDBus
import QuiesceInterface
import QuiesceStore
import QuiesceSync
import QuiesceThreads
import Synchronization

/// `agentd`: the store, the sync worker, the D-Bus service, the logind lock and the prompts, joined
/// by the shutdown coordinator.
///
/// Start order (stop is the reverse): the store, the D-Bus service (it takes the bus name), the
/// logind lock, the sync worker. So copies stop first, then the lock is let go, then the name, and
/// the database closes last, after everything that writes to it.
public enum Agent {
    /// The coordinator the agent runs on.
    typealias Coordinator = ShutdownCoordinator<ContinuousClock>

    /// Runs the agent until it stops; returns the exit status (0 clean, 3 forced, 1 failed to start).
    ///
    /// Structured: the coordinator is built first, with the work sources and prompts; the parts that
    /// send it triggers (the D-Bus service, the logind bridge) are built with it, so a `Quit` can
    /// never meet an agent without one; the coordinator runs them as its components; and what
    /// follows events, counts, departures and signals runs as child tasks of one group that ends
    /// when the coordinator has stopped.
    public static func run(
        configuration: AgentConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment,
        reload: @escaping @Sendable () async throws -> AgentConfiguration, logger: Logger
    ) async -> Int32 {
        let session: BusConnection
        do {
            session = try await BusConnection.session(environment: environment)
        } catch {
            logger.critical("\(AgentStartError.noSessionBus(error.message))")
            return 1
        }
        defer { session.close() }
        // A second agent on the same database stops here, naming the process that holds it; one on
        // another database stops when the bus refuses it the name (AgentService.claimName).
        let store: Store
        do {
            store = try Store(path: configuration.storePath)
        } catch {
            logger.critical("\(error)")
            return 1
        }
        let admission = Gate(name: "admission", open: false)
        let claims = Gate(name: "claims", open: false)
        let sessions = SessionRegistry(store: store, admission: admission, logger: logger)
        do {
            try sessions.recover()
        } catch {
            logger.critical("\(error)")
            store.close()
            return 1
        }
        let system = try? await BusConnection.system(environment: environment)
        defer { system?.close() }

        let stateDirectory = (configuration.storePath as NSString).deletingLastPathComponent
        let paused = (try? store.syncPaused()) ?? false
        if paused { logger.notice("sync is paused (since before this start): nothing is copied until agentctl sync resume") }
        let copierPath: String
        do {
            copierPath = try Copier.locate(environment: environment)
        } catch {
            logger.critical("\(error)")
            store.close()
            return 1
        }
        let worker = SyncWorker(
            store: store, nasRoot: configuration.nasRoot, concurrency: configuration.syncConcurrency, claims: claims,
            requireMount: configuration.requireMount, localDirectory: stateDirectory, paused: paused,
            copier: .process(executable: copierPath), onConflict: configuration.onConflict, logger: logger)
        if let root = configuration.nasRoot, !configuration.requireMount, NASRoot(path: root).sharesFilesystem(with: stateDirectory) {
            logger.notice("""
                sync.nas_root \(root) is on the same filesystem as the agent's database: if it is a mount point, copies made \
                while the NAS is not mounted go to the local disk. Set sync.require_mount: true to have them wait for the mount.
                """)
        }
        let terminal = ExternalPrompt(name: "terminal")
        let coordinator = Coordinator(
            configuration: configuration.shutdown, clock: ContinuousClock(), sources: [sessions.work, worker.inFlight],
            prompts: [NotificationPrompt(connection: session), terminal], admission: admission, claims: claims, logger: logger)
        let notifier = ServiceManagerNotifier(environment: environment)
        let board = StatusBoard(connection: session) { values in
            // Not under a service manager: nothing to tell, so nothing to format.
            guard notifier.isActive else { return }
            let text = ServiceStatus.text(values, now: Int64(Date().timeIntervalSince1970 * 1000))
            if values.state == .stopping || values.state == .stopped {
                notifier.stopping(text)
            } else {
                notifier.status(text)
            }
        }
        let service = AgentService(
            connection: session, coordinator: coordinator, store: store, sessions: sessions, worker: worker, terminal: terminal,
            board: board, logger: logger)
        let tray = configuration.tray == .off
            ? nil
            : Tray(
                connection: session, coordinator: coordinator, service: service, worker: worker, initial: board.current,
                required: configuration.tray == .on, logger: logger)
        let logind = LogindBridge(systemBus: system, coordinator: coordinator, store: store, logger: logger)
        let desktop = configuration.sessionManager == .off
            ? nil
            : DesktopSession(
                connection: session, coordinator: coordinator, startupID: environment["DESKTOP_AUTOSTART_ID"] ?? "",
                required: configuration.sessionManager == .on, logger: logger)
        if desktop == nil { logger.info("desktop.session_manager = false: not registering with a session manager; logout arrives as SIGTERM") }
        let running = RunningWork()
        let recovered = sessions.work.current
        board.update {
            $0.syncPaused = paused
            $0.activeSessions = recovered.count
            $0.running = running.set(sessions: recovered).items
        }
        service.readJobCounts()

        let events = coordinator.events()
        let sessionChanges = sessions.work.changes()
        let syncChanges = worker.inFlight.changes()
        let departures = try? await session.departures()
        // Taken by a thread of ours (the caller blocked them in every thread: see agentd's main).
        let signals: AsyncStream<Int32>
        do {
            signals = try SignalWaiter.signals([SIGINT, SIGTERM, SIGHUP])
        } catch {
            logger.critical("\(error)")
            store.close()
            return 1
        }
        session.onDisconnect {
            logger.error("the session bus went away; stopping")
            Task { await coordinator.trigger(.force) }
        }

        let damage = StoreDamage()
        // Tasks that follow the agent's sources of change while it runs; the first announces the
        // coordinator's events (the phase, the outcome) as properties. They only follow and
        // report: at utility priority, so the pool runs the work they follow (a quit's steps, a
        // client's call) before them. At the stop they are cancelled and not waited for: the
        // D-Bus service announces the outcome itself before it stops, and what the
        // announcer had not come to by then (the phase going to `stopped`) no client following
        // the agent by its name would hear; waiting for it cost an idle quit 0.3 ms.
        let announcer = Task(priority: .utility) {
            var checkpointed = false
            for await event in events {
                board.apply(event)
                if case .transition = event.kind, event.phase != .starting { service.startHasEnded() }
                if case .transition = event.kind, event.phase == .running {
                    service.refreshJobCounts()
                    // Start wrote (recovery, pruning): fold the WAL into the database now, so an
                    // idle agent's quit (or a shutdown) has no checkpoint left to wait for.
                    if !checkpointed {
                        checkpointed = true
                        try? store.checkpoint()
                        // After a clean stop the start did not read the whole file: it is
                        // read now, at idle priority. Damage stops the agent as it would
                        // have stopped the start (exit 1, the file moved aside).
                        store.verifyInBackground { error in
                            logger.critical("\(error)")
                            damage.record()
                            Task { await coordinator.trigger(.force) }
                        }
                    }
                }
            }
        }
        let followers: [Task<Void, Never>] = [
            Task(priority: .utility) {
                for await snapshot in sessionChanges {
                    let work = running.set(sessions: snapshot)
                    board.update {
                        $0.activeSessions = snapshot.count
                        $0.running = work.items
                    }
                    desktop?.workChanged(work)
                }
            },
            Task(priority: .utility) {
                for await _ in worker.waitingChanges { service.readJobCounts() }
            },
            Task(priority: .utility) {
                guard let tray else { return }
                for await values in board.changes { tray.update(values) }
            },
            Task(priority: .utility) {
                for await snapshot in syncChanges {
                    let work = running.set(copies: snapshot)
                    board.update {
                        $0.inFlightJobs = snapshot.count
                        $0.running = work.items
                    }
                    desktop?.workChanged(work)
                    service.refreshJobCounts()
                }
            },
            Task(priority: .utility) {
                guard let departures else { return }
                for await change in departures where change.newOwner.isEmpty && change.name.hasPrefix(":") {
                    service.clientVanished(change.name)
                }
            },
            Task(priority: .utility) {
                for await signal in signals {
                    switch signal {
                    case SIGINT:
                        let response = await coordinator.trigger(.interrupt)
                        logger.info("SIGINT → \(response.effect)")
                    case SIGTERM:
                        let response = await coordinator.trigger(.terminate)
                        logger.info("SIGTERM → \(response.effect)")
                    default: await Self.reload(reload, coordinator: coordinator, worker: worker, logger: logger)
                    }
                }
            },
        ]
        // Start order (stop is the reverse): the store, the D-Bus service (it takes the bus
        // name), the logind lock, the session manager's client, the tray, the sync worker, and
        // the notice that the connections close next.
        let connections = [session] + (system.map { [$0] } ?? [])
        let parts: [(any Component)?] = [
            StoreCloser(store: store, connections: connections), service, logind, desktop, tray, worker, BusDeparture(connections: connections),
        ]
        let result = await coordinator.run(components: parts.compactMap { $0 })
        // The store's stop left the bus right after the database closed (StoreCloser); here only
        // when it never ran (a part before it that would not stop in time). Closed before the
        // followers are cancelled, so the bus subscription among them ends with the connection
        // instead of telling the bus to forget its match first.
        system?.close()
        session.close()
        announcer.cancel()
        for follower in followers { follower.cancel() }
        switch result.outcome {
        case .clean: logger.info("stopped cleanly")
        case .forced(let interrupted): logger.notice("stopped by force; interrupted: \(interrupted.map { "\($0.source) \($0.count)" }.joined(separator: ", ")); the queue resumes at next start")
        case .failedToStart(let component, let error): logger.critical("could not start (\(component)): \(error)")
        }
        return damage.happened ? 1 : result.outcome.exitStatus
    }

    /// SIGHUP: re-reads the configuration and applies what can change while running (windows,
    /// the NAS root). A bad file changes nothing and says why.
    private static func reload(
        _ read: @Sendable () async throws -> AgentConfiguration, coordinator: Coordinator, worker: SyncWorker,
        logger: Logger
    ) async {
        do {
            let configuration = try await read()
            await coordinator.reconfigure(configuration.shutdown)
            worker.setNASRoot(configuration.nasRoot)
            worker.setConflictPolicy(configuration.onConflict)
            logger.info("configuration reloaded")
        } catch {
            logger.error("configuration not reloaded, keeping the current one: \(error)")
        }
    }
}

/// Whether the background check found the database damaged (the run then ends with exit 1).
final class StoreDamage: Sendable {
    private let flag = Atomic(false)
    func record() { flag.store(true, ordering: .relaxed) }
    var happened: Bool { flag.load(ordering: .relaxed) }
}

/// The latest snapshots of both work sources, joined as the prompt lists them: sessions, then
/// copies (the items at most ``StatusBoard/runningLines``).
final class RunningWork: Sendable {
    private let snapshots = Mutex<(sessions: WorkSnapshot, copies: WorkSnapshot)>((.idle, .idle))

    func set(sessions: WorkSnapshot) -> WorkSnapshot {
        snapshots.withLock { snapshots in
            snapshots.sessions = sessions
            return Self.joined(snapshots)
        }
    }

    func set(copies: WorkSnapshot) -> WorkSnapshot {
        snapshots.withLock { snapshots in
            snapshots.copies = copies
            return Self.joined(snapshots)
        }
    }

    private static func joined(_ snapshots: (sessions: WorkSnapshot, copies: WorkSnapshot)) -> WorkSnapshot {
        WorkSnapshot(
            count: snapshots.sessions.count + snapshots.copies.count,
            items: Array((snapshots.sessions.items + snapshots.copies.items).prefix(StatusBoard.runningLines)))
    }
}

/// Closes the database last, then leaves the bus. The store's connection is the last one on the
/// file (the background check stops first), so SQLite folds the WAL into the database and removes
/// it as it closes: the next start finds one self-contained file. A checkpoint of our own before
/// it was the same work twice (0.2 ms of every quit).
///
/// The agent's names go with its connections, closed right here: everything else has stopped,
/// and a client that sees the name go (`agentctl quit`) may start the next agent at once, which
/// finds the database free. Closed after the coordinator had wound down instead (the stop
/// reported, its task resumed, the agent's), the name left 0.13–0.3 ms later.
struct StoreCloser: Component {
    let name = "store"
    let store: Store
    let connections: [BusConnection]

    func start() async throws {}

    func stop() async throws {
        store.close()
        for connection in connections { connection.close() }
    }
}
