public import Logging

/// Runs the shutdown protocol: starts components, takes triggers, drains until the idle predicate
/// holds, asks the user when a window runs out, and tears down in reverse start order.
///
/// It does no I/O of its own. The embedding agent hands it work sources (what keeps it from
/// quitting), prompts (how to ask the user), components (what to start and stop) and a clock,
/// then calls ``run()`` and maps signals, D-Bus calls and logind signals onto ``trigger(_:)`` and
/// ``resume(_:)``. Everything that must happen at a given moment comes from the injected clock,
/// so tests drive time by hand and never sleep.
///
/// Thread model: an actor. Triggers, work changes, prompt answers and timer expiries are all
/// handled on it one at a time; none of its handlers suspends in the middle of a decision, so each
/// decision sees one consistent state. ``admission`` and ``claims`` are lock-protected gates that
/// other threads check synchronously.
public actor ShutdownCoordinator<C: Clock> where C.Duration == Duration {
    /// Open while running: new sessions pass through ``Gate/admit(_:)``. Closes when draining
    /// starts, so `OpenSession` fails with `ShuttingDown` from that moment on.
    public nonisolated let admission: Gate
    /// Open while running and not preparing for sleep: the sync worker claims new jobs only
    /// through it. In-flight work is never cut off by it.
    public nonisolated let claims: Gate
    /// Windows and policies now; ``reconfigure(_:)`` changes them for what comes next.
    public private(set) var configuration: ShutdownConfiguration

    let clock: C
    let sources: [any WorkSource]
    let prompts: [any Prompt]
    let components: [any Component]
    let logger: Logger
    let broadcaster = EventBroadcaster()

    var state: MachineState<C.Instant> = .initial
    var hasRun = false
    var signalsSeen = 0
    var started: [any Component] = []
    var stopRequested: CheckedContinuation<Void, Never>?
    var watch: Watch?
    var watchEpoch = 0
    var timers: [DeadlineKind: Timer] = [:]
    var timerGeneration = 0
    var shutdownHold: Hold<C.Instant>?
    var sleepHold: Hold<C.Instant>?
    var promptRound: PromptRound?
    var promptRounds = 0
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
        self.configuration = configuration
        self.clock = clock
        self.sources = sources
        self.prompts = prompts
        self.components = components
        self.logger = logger
    }

    /// The phase now.
    public var phase: Phase { state.phase }

    /// A configuration reload (SIGHUP): the new windows apply to triggers from now on; a window
    /// already running keeps its deadline, as the user was told it.
    public func reconfigure(_ configuration: ShutdownConfiguration) {
        self.configuration = configuration
        logger.info("windows now: quit \(configuration.quitTimeout.quiesceFormatted), SIGTERM \(configuration.sigtermTimeout.quiesceFormatted), stop \(configuration.stopTimeout.quiesceFormatted)")
    }

    /// Every event from now on, in order, until the coordinator stops. Subscribe before
    /// ``run()`` to see the whole life.
    public nonisolated func events() -> AsyncStream<ShutdownEvent> {
        broadcaster.subscribe()
    }

    /// The phase, time left and counts now.
    public func status() -> CoordinatorStatus {
        CoordinatorStatus(
            phase: state.phase, remaining: remaining, work: watch?.counts ?? WorkCounts(),
            holds: [shutdownHold, sleepHold].compactMap { $0?.handle.release == nil ? $0?.handle.kind : nil })
    }

    /// Starts the components, runs until a trigger ends the agent, then tears down.
    ///
    /// Returns the outcome (exit status 0, 3 or 1) and what teardown did. When teardown hits the
    /// hard exit deadline it returns at once, naming the hung component; the caller should exit
    /// the process then. Cancelling the calling task forces a stop.
    public func run() async -> ShutdownResult {
        guard !hasRun else {
            return ShutdownResult(
                outcome: .failedToStart(component: "coordinator", error: "run() was called a second time"),
                teardown: TeardownReport())
        }
        hasRun = true
        if let failure = await startComponents() { return failure }
        guard case .starting(let starting) = state else {
            return ShutdownResult(
                outcome: .failedToStart(component: "coordinator", error: "left starting unexpectedly"),
                teardown: TeardownReport())
        }
        move(to: .running(starting.started()), because: .startCompleted)
        for deferred in starting.deferred {
            logger.info("carrying out \(deferred.trigger), deferred while starting")
            _ = apply(deferred.trigger, hold: deferred.hold)
        }
        await withTaskCancellationHandler {
            await waitForStopRequest()
        } onCancel: {
            Task { await self.trigger(.force) }
        }
        return await finish()
    }

    /// Handles a trigger: starts a drain, pulls its deadline in, forces, or holds a system
    /// transition. See ``Trigger`` for each one's window.
    @discardableResult
    public func trigger(_ trigger: Trigger) -> TriggerResponse {
        switch state {
        case .starting(var starting):
            let hold = trigger.holdKind.map(SystemHold.init(kind:))
            starting.deferred.append(DeferredTrigger(trigger: trigger, hold: hold))
            state = .starting(starting)
            logger.info("deferring \(trigger) until start completes")
            return response(.deferred, hold: hold)
        case .stopping, .stopped, .failed:
            let hold = trigger.holdKind.map(SystemHold.init(kind:))
            hold?.resolve(.stopping)
            emit(.triggerIgnored, because: .trigger(trigger))
            return response(.ignored, hold: hold)
        case .running, .draining, .prompting:
            return apply(trigger, hold: nil)
        }
    }

    /// The system said `PrepareForShutdown(false)` or `PrepareForSleep(false)`: the transition is
    /// off or over. A shutdown drain with no quit behind it returns to running; after sleep,
    /// claiming starts again. Re-take the delay lock after calling this.
    public func resume(_ kind: SystemHoldKind) {
        if case .starting(var starting) = state {
            starting.deferred.removeAll { deferred in
                guard deferred.trigger.holdKind == kind else { return false }
                deferred.hold?.resolve(.cancelled)
                return true
            }
            state = .starting(starting)
            return
        }
        switch kind {
        case .shutdown: resumeFromShutdown()
        case .sleep: resumeFromSleep()
        }
    }

    // MARK: - Internals shared by the extensions

    /// Time left until the quit deadline, if a quit is under way.
    var remaining: Duration? {
        let deadline: C.Instant
        switch state {
        case .draining(let draining):
            guard let quit = draining.quit else { return nil }
            deadline = quit.deadline
        case .prompting(let prompting):
            deadline = prompting.quit.deadline
        default:
            return nil
        }
        let left = clock.now.duration(to: deadline)
        return left < .zero ? .zero : left
    }

    func apply(_ trigger: Trigger, hold: SystemHold?) -> TriggerResponse {
        switch trigger {
        case .force:
            stop(.forced, because: .trigger(trigger))
            return response(.forced)
        case .interrupt, .terminate:
            signalsSeen += 1
            guard signalsSeen < 2 else {
                logger.notice("second signal (\(trigger)): forcing")
                stop(.forced, because: .trigger(trigger))
                return response(.forced)
            }
            let window = trigger == .interrupt ? configuration.quitTimeout : configuration.sigtermTimeout
            return beginQuit(window: window, trigger: trigger)
        case .request(let timeout):
            return beginQuit(window: timeout ?? configuration.quitTimeout, trigger: trigger)
        case .systemShutdown(let window):
            return beginShutdownHold(window: window, handle: hold)
        case .systemSleep(let window):
            return beginSleepHold(window: window, handle: hold)
        }
    }

    func response(_ effect: TriggerResponse.Effect, hold: SystemHold? = nil) -> TriggerResponse {
        TriggerResponse(effect: effect, phase: state.phase, remaining: remaining, hold: hold)
    }

    /// Moves to a new phase, reports it, and sets the gates to match.
    func move(to next: MachineState<C.Instant>, because reason: ShutdownReason) {
        let from = state.phase
        state = next
        updateGates()
        emit(.transition(from: from, to: next.phase), because: reason)
    }

    func emit(_ kind: ShutdownEvent.Kind, because reason: ShutdownReason) {
        let event = ShutdownEvent(
            kind: kind, phase: state.phase, reason: reason, work: watch?.counts ?? WorkCounts(),
            remaining: remaining)
        switch kind {
        case .componentStarted, .promptUpdated, .triggerIgnored, .workChanged:
            logger.debug("\(event)")
        case .promptUnavailable, .componentStopped(_, .failed), .componentStopped(_, .timedOut):
            logger.warning("\(event)")
        case .componentStopped(_, .hung), .componentStopped(_, .notReached):
            logger.error("\(event)")
        default:
            logger.info("\(event)")
        }
        broadcaster.yield(event)
    }

    /// Admission is open only while running; claims only while running and not preparing for
    /// sleep.
    func updateGates() {
        let running = state.phase == .running
        admission.set(open: running)
        let claimsOpen = running && sleepHold == nil
        guard claims.isOpen != claimsOpen else { return }
        claims.set(open: claimsOpen)
    }

    private func startComponents() async -> ShutdownResult? {
        for component in components {
            do {
                try await component.start()
                started.append(component)
                emit(.componentStarted(component.name), because: .startCompleted)
            } catch {
                guard case .starting(let starting) = state else { break }
                let reason = ShutdownReason.startFailed(component: component.name, error: "\(error)")
                move(to: .failed(starting.failed(component: component.name, error: "\(error)")), because: reason)
                for deferred in starting.deferred { deferred.hold?.resolve(.stopping) }
                let report = await stopStartedComponents()
                broadcaster.finish()
                return ShutdownResult(
                    outcome: .failedToStart(component: component.name, error: "\(error)"), teardown: report)
            }
        }
        return nil
    }

    private func waitForStopRequest() async {
        guard case .stopping = state else {
            await withCheckedContinuation { stopRequested = $0 }
            return
        }
    }

    /// Called once the phase is `stopping`: collect what was interrupted, let withdrawn prompts
    /// take themselves down, stop components, report.
    private func finish() async -> ShutdownResult {
        guard case .stopping(let stopping) = state else {
            return ShutdownResult(outcome: .clean, teardown: TeardownReport())
        }
        var outcome = ShutdownOutcome.clean
        if stopping.decision == .forced {
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
        emit(.outcomeDecided(outcome), because: .stopping)
        await awaitWithdrawals()
        let report = await stopStartedComponents()
        if let hung = report.hungComponent {
            logger.critical(
                "component \(hung) did not stop before the hard exit deadline (\(configuration.effectiveHardExitDeadline.quiesceFormatted)); exiting without it")
        }
        move(to: .stopped(stopping.finished()), because: .teardownFinished)
        logger.notice("stopped: \(outcome)")
        broadcaster.finish()
        return ShutdownResult(outcome: outcome, teardown: report)
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
        let report = await tearDown(
            started, clock: clock, stopTimeout: configuration.stopTimeout, hardDeadline: hardDeadline
        ) { stop in
            emit(.componentStopped(stop.name, stop.result), because: .teardownFinished)
        }
        started = []
        return report
    }
}

/// A snapshot of the coordinator for status displays.
public struct CoordinatorStatus: Sendable, Hashable {
    public var phase: Phase
    /// Time left until the quit deadline, if a quit is under way.
    public var remaining: Duration?
    /// Counts of every source the coordinator follows now (empty while it follows none).
    public var work: WorkCounts
    /// System delays being held and not yet released.
    public var holds: [SystemHoldKind]
}

extension Trigger {
    /// The system hold this trigger asks for, if any.
    var holdKind: SystemHoldKind? {
        switch self {
        case .systemShutdown: .shutdown
        case .systemSleep: .sleep
        default: nil
        }
    }
}
