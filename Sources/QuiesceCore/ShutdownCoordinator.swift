public import Logging
import Synchronization

/// Runs the shutdown protocol: starts components, takes triggers, drains until the idle predicate
/// holds, asks the user when a window runs out, and tears down in reverse start order.
///
/// It does no I/O of its own. The embedding agent hands it work sources (what keeps it from
/// quitting), prompts (how to ask the user), components (what to start and stop) and a clock,
/// then calls ``run()`` and maps signals, D-Bus calls, logind's and the desktop's signals onto
/// ``trigger(_:)`` and ``resume(_:)``. Everything that must happen at a given moment comes from
/// the injected clock, so tests drive time by hand and never sleep.
///
/// The rules themselves are a value, `ShutdownMachine`: it takes each input at an instant and
/// returns effects. This actor only interprets them — timers on the clock, the subscription to the
/// work sources, prompt tasks, the gates, holds, the event stream, teardown — and feeds what comes
/// back (a snapshot, an answer, a timer) in as the next input. Each input is handled in one step
/// on the actor, so each decision sees one consistent state. ``admission`` and ``claims`` are
/// lock-protected gates that other threads check synchronously.
public actor ShutdownCoordinator<C: Clock> where C.Duration == Duration {
    /// Open while running: new sessions pass through ``Gate/admit(_:)``. Closes when draining
    /// starts, so `OpenSession` fails with `ShuttingDown` from that moment on.
    public nonisolated let admission: Gate
    /// Open while running and not preparing for sleep: the sync worker claims new jobs only
    /// through it. In-flight work is never cut off by it.
    public nonisolated let claims: Gate

    let clock: C
    let sources: [any WorkSource]
    let prompts: [any Prompt]
    let components: [any Component]
    let logger: Logger
    let broadcaster = EventBroadcaster()
    /// The outcome once decided, readable from anywhere (see ``outcome``).
    private let decided = Mutex<ShutdownOutcome?>(nil)

    var machine: ShutdownMachine<C.Instant>
    var hasRun = false
    var started: [any Component] = []
    /// Set by the machine's teardown effect; ``run()`` waits for it.
    var decision: StopDecision?
    var stopRequested: CheckedContinuation<Void, Never>?
    var timers: [Deadline: Task<Void, Never>] = [:]
    var watching: [Task<Void, Never>] = []
    /// Inputs an effect produced without waiting, handled before ``step(_:)`` returns.
    var followUps: [MachineInput] = []
    /// Timers and work subscriptions asked for during a step, started when it ends (unless taken
    /// back meanwhile).
    var toArm: [Deadline: C.Instant] = [:]
    var toWatch: (epoch: Int, subscriptions: [(index: Int, changes: AsyncStream<WorkSnapshot>, known: Bool)])?
    var holds: [SystemHoldKind: SystemHold] = [:]
    /// The prompt round showing now: its tasks and update streams, by prompt index.
    var round: (id: Int, asking: [Int: Task<Void, Never>], updates: [Int: AsyncStream<PromptQuestion>.Continuation])?
    /// Withdrawn prompts still closing their notifications.
    var withdrawing: [Task<Void, Never>] = []

    /// - Parameters:
    ///   - configuration: windows and policies; validate it first (``ShutdownConfiguration/validate()``).
    ///   - clock: where every window and timeout is measured. `ContinuousClock()` in an agent, a
    ///     test clock in tests.
    ///   - sources: what keeps the agent from quitting; the idle predicate is "every count is 0".
    ///   - prompts: how to ask "Force quit anyway?"; they race and the first answer wins. With none
    ///     the agent forces when the window runs out.
    ///   - components: started in this order, stopped in reverse.
    ///   - admission: the admission gate, when parts built before the coordinator need it; made
    ///     here otherwise. The coordinator closes it now and alone opens and closes it later.
    ///   - claims: the claim gate, likewise (the sync worker is built with it, then handed to the
    ///     coordinator as a component).
    ///   - logger: one line an event.
    public init(
        configuration: ShutdownConfiguration = ShutdownConfiguration(),
        clock: C,
        sources: [any WorkSource] = [],
        prompts: [any Prompt] = [],
        components: [any Component] = [],
        admission: Gate = Gate(name: "admission", open: false),
        claims: Gate = Gate(name: "claims", open: false),
        logger: Logger
    ) {
        admission.set(open: false)
        claims.set(open: false)
        self.admission = admission
        self.claims = claims
        self.clock = clock
        self.sources = sources
        self.prompts = prompts
        self.components = components
        self.logger = logger
        self.machine = ShutdownMachine(
            configuration: configuration,
            sources: sources.map { WorkSourceInfo(name: $0.name, blocksSleep: $0.blocksSleep) },
            prompts: prompts.map(\.name), now: clock.now)
    }

    /// The phase now.
    public var phase: Phase { machine.phase }

    /// Windows and policies now; ``reconfigure(_:)`` changes them for what comes next.
    public var configuration: ShutdownConfiguration { machine.configuration }

    /// A configuration reload (SIGHUP): the new windows apply to triggers from now on; a window
    /// already running keeps its deadline, as the user was told it.
    public func reconfigure(_ configuration: ShutdownConfiguration) {
        step(.reconfigure(configuration))
    }

    /// Every event from now on, in order, until the coordinator stops. Subscribe before
    /// ``run()`` to see the whole life.
    public nonisolated func events() -> AsyncStream<ShutdownEvent> {
        broadcaster.subscribe()
    }

    /// The phase, time left and counts now.
    public func status() -> CoordinatorStatus {
        let now = clock.now
        return CoordinatorStatus(
            phase: machine.phase, remaining: machine.remaining(at: now), work: machine.counts,
            holds: machine.heldDelays, ceiling: machine.ceilingRemaining(at: now))
    }

    /// Starts the components, runs until a trigger ends the agent, then tears down.
    ///
    /// Returns the outcome (exit status 0, 3 or 1) and what teardown did. When teardown hits the
    /// hard exit deadline it returns at once, naming the hung component; the caller should exit
    /// the process then. Cancelling the calling task forces a stop.
    ///
    /// - Parameter more: components started after those given at init. Parts that send the
    ///   coordinator triggers (a D-Bus service, a logind bridge) are built with the coordinator and
    ///   handed in here, so none of them exists without it; a trigger they send before start
    ///   completes is deferred (rule 7).
    public func run(components more: [any Component] = []) async -> ShutdownResult {
        guard !hasRun else {
            return ShutdownResult(
                outcome: .failedToStart(component: "coordinator", error: "run() was called a second time"),
                teardown: TeardownReport())
        }
        hasRun = true
        for component in components + more {
            do {
                try await component.start()
                started.append(component)
                report(.componentStarted(component.name), because: .startCompleted)
            } catch {
                step(.startFailed(component: component.name, error: "\(error)"))
                let teardown = await stopStartedComponents()
                broadcaster.finish()
                return ShutdownResult(
                    outcome: .failedToStart(component: component.name, error: "\(error)"), teardown: teardown)
            }
        }
        step(.startCompleted)
        rehearseQuit()
        await withTaskCancellationHandler {
            await waitForStopRequest()
        } onCancel: {
            Task { await self.trigger(.force) }
        }
        return await finish()
    }

    /// How the stop ended, once the coordinator has decided it (before the components stop):
    /// what a component that speaks for the agent announces before it goes, without waiting for
    /// the event that carries it.
    public nonisolated var outcome: ShutdownOutcome? { decided.withLock { $0 } }

    /// Takes a copy of the machine through a quit that finds nothing running, and throws it away.
    ///
    /// The machine is a value with no effects of its own: the copy changes nothing, and nothing
    /// it decides is carried out. What it leaves behind is the work of a first time — the
    /// runtime's type metadata and conformances for the drain's states looked up and cached,
    /// their code paged in — done now, while nothing waits, instead of in the one quit of the
    /// agent's life (an idle agent's quit decided in 0.41 ms without it, 0.25 ms after it: 40
    /// quits, medians).
    private func rehearseQuit() {
        var rehearsal = machine
        let now = clock.now
        _ = rehearsal.handle(.trigger(.request()), at: now)
        for index in sources.indices {
            _ = rehearsal.handle(.workChanged(epoch: rehearsal.watch?.epoch ?? 0, source: index, WorkSnapshot(count: 0)), at: now)
        }
    }

    /// Handles a trigger: starts a drain, pulls its deadline in, sets a ceiling, forces, or holds a
    /// system transition or the desktop's end of session. See ``Trigger`` for each one's window.
    @discardableResult
    public func trigger(_ trigger: Trigger) -> TriggerResponse {
        let effect = step(.trigger(trigger)) ?? .ignored
        return TriggerResponse(
            effect: effect, phase: machine.phase, remaining: machine.remaining(at: clock.now),
            hold: trigger.holdKind.flatMap { holds[$0] })
    }

    /// The system said `PrepareForShutdown(false)` or `PrepareForSleep(false)`, or the desktop
    /// sent `CancelEndSession`: that transition is off or over. A drain with no quit behind it
    /// returns to running; after sleep, claiming starts again. Re-take the delay lock after calling
    /// this.
    public func resume(_ kind: SystemHoldKind) {
        step(.resume(kind))
    }

    // MARK: - Stopping

    private func waitForStopRequest() async {
        guard decision == nil else { return }
        await withCheckedContinuation { stopRequested = $0 }
    }

    /// Called once the machine has decided to stop: collect what was interrupted, let withdrawn
    /// prompts take themselves down, stop components, report.
    private func finish() async -> ShutdownResult {
        var outcome = ShutdownOutcome.clean
        if decision == .forced {
            var interrupted: [InterruptedWork] = []
            for source in sources {
                let snapshot = await source.snapshot()
                if snapshot.count > 0 {
                    interrupted.append(
                        InterruptedWork(source: source.name, count: snapshot.count, items: snapshot.items))
                }
            }
            if !interrupted.isEmpty { outcome = .forced(interrupted: interrupted) }
        }
        decided.withLock { $0 = outcome }
        report(.outcomeDecided(outcome), because: .stopping)
        await awaitWithdrawals()
        let teardown = await stopStartedComponents()
        if let hung = teardown.hungComponent {
            logger.critical(
                "component \(hung) did not stop before the hard exit deadline (\(configuration.effectiveHardExitDeadline.quiesceFormatted)); exiting without it")
        }
        step(.teardownFinished)
        logger.notice("stopped: \(outcome)")
        broadcaster.finish()
        return ShutdownResult(outcome: outcome, teardown: teardown)
    }

    /// Withdrawn prompts close their notifications on the way out; give them the stop timeout.
    private func awaitWithdrawals() async {
        let tasks = withdrawing
        withdrawing = []
        guard !tasks.isEmpty else { return }
        let limit = clock.now.advanced(by: configuration.stopTimeout)
        _ = await race(clock: clock, until: limit) {
            for task in tasks { await task.value }
        }
    }

    private func stopStartedComponents() async -> TeardownReport {
        let hardDeadline = clock.now.advanced(by: configuration.effectiveHardExitDeadline)
        let teardown = await tearDown(
            started, clock: clock, stopTimeout: configuration.stopTimeout, hardDeadline: hardDeadline
        ) { stop in
            report(.componentStopped(stop.name, stop.result), because: .teardownFinished)
        }
        started = []
        return teardown
    }
}

/// A snapshot of the coordinator for status displays.
public struct CoordinatorStatus: Sendable, Hashable {
    public var phase: Phase
    /// Time left until the quit deadline, if a quit is under way.
    public var remaining: Duration?
    /// Counts of every source the coordinator follows now (empty while it follows none).
    public var work: WorkCounts
    /// System delays (and the desktop's end of session) being held and not yet released.
    public var holds: [SystemHoldKind]
    /// Time left until rule 10's ceiling, when a stop nobody at the agent asked for is under way:
    /// by then the agent has decided, clean or forced.
    public var ceiling: Duration?
}
