import Logging
import QuiesceCore
import QuiesceDBus
import Synchronization

/// The desktop's session manager, joined to the coordinator (rule 11): GNOME's
/// `org.gnome.SessionManager` (also Cinnamon's, MATE's, Budgie's).
///
/// - The agent registers as a client, and again whenever the session manager (re)appears.
/// - `QueryEndSession` is answered at once: the logout inhibitor speaks for the agent.
/// - `EndSession` starts the end-of-session drain (``Trigger/sessionEnding``) while the desktop is
///   still up, so the prompt can show; `EndSessionResponse(true)` goes back when the agent is
///   idle or has been forced at the ceiling (rule 10). `CancelEndSession` resumes. `Stop` ends the
///   agent at once (cleanly, when it is idle, as it is by then unless forced).
/// - While work runs it holds a *logout* inhibitor whose reason names the work, in the prompt's
///   words, so the desktop's own logout dialog says what is still running; re-taken at most once
///   a second as the work changes, dropped the moment the agent is idle.
///
/// Without a session manager (KDE, wlroots desktops) nothing here runs: logout arrives as SIGTERM,
/// and rule 10 bounds it. The log says so once.
final class DesktopSession: Component, Sendable {
    let name = "session-manager"
    /// Our application id: the desktop file `io.github.quiesce.Agent.desktop`. GNOME's logout
    /// dialog names an inhibitor only when its app id matches an installed desktop file.
    static let appID = "io.github.quiesce.Agent"
    /// The shortest time between two re-takes of the inhibitor with a new reason.
    static let reasonInterval = Duration.seconds(1)

    private struct State {
        /// The session manager's unique name and our client path there, while registered, and the
        /// task following that client's signals.
        var registration: (owner: String, client: String)?
        var following: Task<Void, Never>?
        /// The drain for an `EndSession` and the answer after it: stopping waits for the answer to
        /// have gone before the connection closes.
        var answering: Task<Void, Never>?
        /// From `EndSession` on: the inhibitor stays exactly as it is until the answer has gone
        /// (gnome-session ends its END_SESSION phase the moment an inhibitor is dropped, and would
        /// stop before hearing from us); it goes after `EndSessionResponse`.
        var ending = false
        var watching: [Task<Void, Never>] = []
        var stopped = false
        var saidAbsent = false
        /// The work now, and the inhibitor held for it.
        var work = WorkSnapshot.idle
        var inhibitor: (cookie: UInt32, reason: String, owner: String)?
        var lastReasonChange: ContinuousClock.Instant?
        var pendingReason: Task<Void, Never>?
        /// From `QueryEndSession` until `EndSession` or `CancelEndSession`: the desktop's logout
        /// dialog is showing our inhibitor. Its reason is not re-taken then (each re-take makes
        /// gnome-session open the dialog again; once that left GNOME's Cancel without effect); it is
        /// still dropped when the work ends, and the logout then goes on by itself.
        var desktopAsking = false
    }

    private let proxy: SessionManagerProxy
    private let coordinator: ShutdownCoordinator<ContinuousClock>
    private let startupID: String
    /// `desktop.session_manager = true`: its absence is worth a warning, not a note.
    private let required: Bool
    private let logger: Logger
    private let state = Mutex(State())
    /// Inhibitor changes, one at a time, each reading the latest work.
    private let adjusting = Coalescer()

    /// - Parameter startupID: `$DESKTOP_AUTOSTART_ID`, which the session manager gives a program it
    ///   starts so that it can recognise it when it registers; "" otherwise.
    init(connection: BusConnection, coordinator: ShutdownCoordinator<ContinuousClock>, startupID: String, required: Bool, logger: Logger) {
        proxy = SessionManagerProxy(connection: connection)
        self.coordinator = coordinator
        self.startupID = startupID
        self.required = required
        self.logger = logger
    }

    func start() async throws {
        let changes = try await proxy.connection.nameOwnerChanges(of: SessionManagerProxy.busName)
        let watching = Task {
            for await change in changes {
                if change.newOwner.isEmpty {
                    self.forget(owner: change.oldOwner)
                } else {
                    self.logger.notice("the session manager appeared on the bus (\(change.newOwner)); registering")
                    await self.register(owner: change.newOwner)
                }
            }
        }
        state.withLock { $0.watching.append(watching) }
        if let owner = try? await proxy.connection.nameOwner(SessionManagerProxy.busName) {
            await register(owner: owner)
        } else {
            sayAbsent()
        }
    }

    /// Unregisters (a quit of our own is not a crash to the session manager) and drops the
    /// inhibitor with the connection's close.
    func stop() async throws {
        let (registration, tasks) = state.withLock { state in
            state.stopped = true
            state.pendingReason?.cancel()
            defer { state.watching = []; state.pendingReason = nil; state.following = nil }
            return (state.registration, state.watching + [state.following].compactMap { $0 })
        }
        for task in tasks { task.cancel() }
        // The stop that ends a forced end of session resolves its hold: let the answer go out
        // first (the component's stop timeout bounds this), or gnome-session waits 90 s for it.
        await state.withLock({ $0.answering })?.value
        if let registration {
            try? await proxy.unregisterClient(registration.client)
        }
    }

    /// The work running now: the inhibitor follows it.
    func workChanged(_ work: WorkSnapshot) {
        state.withLock { $0.work = work }
        adjustInhibitor()
    }

    // MARK: Registration

    private func register(owner: String) async {
        guard !state.withLock({ $0.stopped }) else { return }
        do {
            let client = try await proxy.registerClient(appID: Self.appID, startupID: startupID)
            let signals = try await proxy.clientSignals(client: client, owner: owner)
            let following = Task { await self.follow(signals, client: client) }
            state.withLock { state in
                state.registration = (owner, client)
                state.following?.cancel()
                state.following = following
                state.ending = false
                state.desktopAsking = false
                // The old inhibitor died with the old session manager.
                if state.inhibitor?.owner != owner { state.inhibitor = nil }
            }
            logger.info("registered with the session manager as \(client): logout is seen before SIGTERM")
            adjustInhibitor()
        } catch {
            logger.warning("the session manager refused our registration (\(error.message)); logout reaches the agent as SIGTERM only")
        }
    }

    private func forget(owner: String) {
        let forgotten = state.withLock { state -> Bool in
            guard state.registration?.owner == owner else { return false }
            state.registration = nil
            state.inhibitor = nil
            // Its client path may be someone else's on the next session manager: stop listening.
            state.following?.cancel()
            state.following = nil
            return true
        }
        if forgotten { logger.notice("the session manager left the bus; registering again when it comes back") }
    }

    private func sayAbsent() {
        guard state.withLock({ state in defer { state.saidAbsent = true }; return !state.saidAbsent }) else { return }
        logger.log(level: required ? .warning : .info, """
            no desktop session manager (\(SessionManagerProxy.busName)) on the session bus: logout reaches the agent as SIGTERM, \
            and it decides within the SIGTERM window + answer timeout (KDE, wlroots desktops)
            """)
    }

    // MARK: The session manager's signals

    private func follow(_ signals: some AsyncSequence<SessionManagerProxy.ClientSignal, Never>, client: String) async {
        for await signal in signals {
            switch signal {
            case .queryEndSession(let flags):
                logger.info("the session manager asks whether the session may end (flags \(flags)); yes: the logout inhibitor says what runs")
                state.withLock { $0.desktopAsking = true }
                try? await proxy.endSessionResponse(client: client, isOK: true)
            case .endSession(let flags):
                state.withLock { $0.desktopAsking = false; $0.ending = true }
                logger.notice("the session manager ends the session (flags \(flags)): draining while the desktop is up")
                // Not awaited here: a CancelEndSession or Stop must be read while the drain runs.
                let answering = Task { await self.endSession(client: client) }
                state.withLock { $0.answering = answering }
            case .cancelEndSession:
                state.withLock { $0.desktopAsking = false; $0.ending = false }
                adjustInhibitor()
                logger.notice("the session manager cancelled the end of the session: running again")
                await coordinator.resume(.sessionEnd)
            case .stop:
                logger.notice("the session manager says stop")
                await coordinator.trigger(.force)
            }
        }
    }

    /// Drains, then tells the session manager it may go on — unless the end was cancelled.
    private func endSession(client: String) async {
        let response = await coordinator.trigger(.sessionEnding)
        let release = await response.hold?.released() ?? .stopping
        guard release != .cancelled else { return }
        logger.info("answering the session manager: the session may end (\(release))")
        do {
            try await proxy.endSessionResponse(client: client, isOK: true)
        } catch where error.name == .noReply || error.name == .disconnected {
            // gnome-session may go on, and exit, before it replies: the answer was heard.
        } catch {
            logger.warning("could not answer the session manager: \(error.message)")
        }
        // Answered: now the inhibitor may go (earlier, gnome-session would have ended the phase
        // without our answer).
        let held = state.withLock { state in
            defer { state.inhibitor = nil }
            return state.inhibitor
        }
        if let held { try? await proxy.uninhibit(held.cookie) }
    }

    // MARK: The logout inhibitor

    /// Brings the inhibitor in line with the work: taken while work runs, its reason the prompt's
    /// words, re-taken with a new reason at most once a second, dropped at once when idle. One
    /// change at a time; a change that comes meanwhile is picked up after it.
    private func adjustInhibitor() {
        adjusting.request { await self.adjustOnce() }
    }

    private func adjustOnce() async {
        let (work, held, owner, last, stopped, asking, ending) = state.withLock { state in
            (state.work, state.inhibitor, state.registration?.owner, state.lastReasonChange, state.stopped, state.desktopAsking, state.ending)
        }
        guard let owner, !stopped, !ending else { return }
        if work.isIdle {
            guard let held else { return }
            state.withLock { $0.inhibitor = nil; $0.pendingReason?.cancel(); $0.pendingReason = nil }
            try? await proxy.uninhibit(held.cookie)
            logger.info("idle: the logout inhibitor is released")
            return
        }
        let reason = PromptQuestion(count: work.count, running: work.items).sentence
        guard held?.reason != reason, !(asking && held != nil) else { return }
        let now = ContinuousClock.now
        if held != nil, let last, last.duration(to: now) < Self.reasonInterval {
            // Too soon after the last change: once more when the second is up, with the work then.
            state.withLock { state in
                guard state.pendingReason == nil else { return }
                state.pendingReason = Task {
                    try? await Task.sleep(until: last.advanced(by: Self.reasonInterval), clock: .continuous)
                    self.state.withLock { $0.pendingReason = nil }
                    self.adjustInhibitor()
                }
            }
            return
        }
        do {
            // The new one before the old one goes: the dialog never sees the agent without one.
            let cookie = try await proxy.inhibit(appID: Self.appID, reason: reason, flags: .logout)
            state.withLock { state in
                state.inhibitor = (cookie, reason, owner)
                state.lastReasonChange = now
            }
            if let held { try? await proxy.uninhibit(held.cookie) }
            logger.info("holding a logout inhibitor: \(reason)")
        } catch {
            logger.warning("the session manager refused a logout inhibitor: \(error.message)")
        }
    }
}
