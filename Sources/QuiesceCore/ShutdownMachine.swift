import Logging

/// The name and sleep policy of a work source: all the machine needs to know of one.
struct WorkSourceInfo: Sendable, Hashable {
    var name: String
    var blocksSleep: Bool
}

extension MachineInput {
    var isClock: Bool {
        if case .clock = self { true } else { false }
    }
}

/// The latest snapshot of every work source, while the machine follows them.
struct WorkWatch: Sendable, Hashable {
    let epoch: Int
    /// `nil` until that source has reported.
    var snapshots: [WorkSnapshot?]

    var allReported: Bool { snapshots.allSatisfy { $0 != nil } }
}

/// The shutdown protocol as a value: every rule of `docs/protocol.md` in one place, with no I/O,
/// no tasks and no clock of its own.
///
/// ``handle(_:at:)`` takes one input at one instant and returns the effects to carry out;
/// ``ShutdownCoordinator`` carries them out (timers, prompt tasks, gates, the event stream,
/// teardown) and feeds what comes back in as the next input. Because the machine compares
/// instants instead of trusting timers, a timer that fires late, twice or after its deadline moved
/// changes nothing; because it keeps the gates, deadlines and subscription it last asked for, it
/// asks again only when they change.
///
/// Where each rule lives: triggers and re-entrancy (rules 4, 7, 10, 11) in
/// `ShutdownMachine+Triggers.swift`; the decision after every change — idle, window, ceiling,
/// holds (rules 1–3, 5, 10) — in `ShutdownMachine+Decisions.swift`; the prompt's answers (rule 5)
/// in `ShutdownMachine+Prompts.swift`; gates, deadlines and the subscription derived from the state
/// here, in ``reconcile()``.
struct ShutdownMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    var configuration: ShutdownConfiguration
    let sources: [WorkSourceInfo]
    /// Prompt names, by index.
    let prompts: [String]

    var state: MachineState<Instant> = .initial
    /// SIGINTs and SIGTERMs seen: the second forces.
    var signals = 0
    /// The counts, while something needs them.
    var watch: WorkWatch?
    var epochs = 0
    var rounds = 0

    /// The instant of the input being handled.
    var now: Instant
    /// The effects of the input being handled.
    var effects: [MachineEffect<Instant>] = []
    /// What the interpreter was last told.
    private var armed: [Deadline: Instant] = [:]
    private var gates = (admission: false, claims: false)

    init(configuration: ShutdownConfiguration, sources: [WorkSourceInfo], prompts: [String], now: Instant) {
        self.configuration = configuration
        self.sources = sources
        self.prompts = prompts
        self.now = now
    }

    var phase: Phase { state.phase }

    /// Handles one input at `now`: applies it, decides what the new state calls for, and
    /// reconciles gates, deadlines and the subscription with it.
    mutating func handle(_ input: MachineInput, at now: Instant) -> MachineStep<Instant> {
        self.now = now
        effects = []
        var response: TriggerResponse.Effect?
        switch input {
        case .startCompleted: startCompleted()
        case .startFailed(let component, let error): startFailed(component: component, error: error)
        case .trigger(let trigger): response = receive(trigger)
        case .resume(let kind): resume(kind)
        case .workChanged(let epoch, let source, let snapshot): workChanged(epoch: epoch, source: source, to: snapshot)
        case .clock: break
        case .promptAnswered(let round, let prompt, let answer): answered(round: round, prompt: prompt, answer)
        case .teardownFinished: teardownFinished()
        case .reconfigure(let configuration): reconfigure(configuration)
        }
        decide(timerFired: input.isClock)
        // A subscription to no sources at all has every report it will ever get: decide on it now.
        if reconcile(), watch?.allReported == true {
            decide()
            reconcile()
        }
        let step = MachineStep(effects: effects, response: response)
        effects = []
        return step
    }

    // MARK: Reading the state

    /// Time left until the drain's deadline, while one runs.
    func remaining(at now: Instant) -> Duration? {
        guard case .draining(let draining) = state, let drain = draining.drain else {
            if case .prompting = state { return .zero }
            return nil
        }
        return max(.zero, now.duration(to: drain.deadline))
    }

    /// Time left until rule 10's ceiling, while one is set.
    func ceilingRemaining(at now: Instant) -> Duration? {
        state.drain?.ceiling.map { max(.zero, now.duration(to: $0)) }
    }

    /// The counts of the sources that have reported, while followed.
    var counts: WorkCounts {
        guard let watch else { return WorkCounts() }
        var bySource: [String: Int] = [:]
        for (source, snapshot) in zip(sources, watch.snapshots) {
            if let snapshot { bySource[source.name, default: 0] += snapshot.count }
        }
        return WorkCounts(bySource: bySource)
    }

    /// The delays held and not yet released.
    var heldDelays: [SystemHoldKind] { state.holds?.held ?? [] }

    /// An event describing the state now.
    func event(_ kind: ShutdownEvent.Kind, because reason: ShutdownReason, at now: Instant) -> ShutdownEvent {
        ShutdownEvent(kind: kind, phase: state.phase, reason: reason, work: counts, remaining: remaining(at: now))
    }

    // MARK: Helpers for the rules

    mutating func move(to next: MachineState<Instant>, because reason: ShutdownReason) {
        let from = state.phase
        state = next
        emit(.transition(from: from, to: next.phase), because: reason)
    }

    /// Replaces the state without a phase change (same phase, new data).
    mutating func update(_ next: MachineState<Instant>) {
        state = next
    }

    mutating func emit(_ kind: ShutdownEvent.Kind, because reason: ShutdownReason) {
        effects.append(.emit(event(kind, because: reason, at: now)))
    }

    mutating func log(_ level: Logger.Level, _ message: String) {
        effects.append(.log(level, message))
    }

    // MARK: Start and teardown (rule 7 is in the triggers)

    private mutating func startCompleted() {
        guard case .starting(let starting) = state else { return }
        move(to: .running(starting.started()), because: .startCompleted)
        for trigger in starting.deferred {
            log(.info, "carrying out \(trigger), deferred while starting")
            _ = apply(trigger)
        }
    }

    private mutating func startFailed(component: String, error: String) {
        guard case .starting(let starting) = state else { return }
        move(to: .failed(starting.failed(component: component, error: error)),
             because: .startFailed(component: component, error: error))
        for kind in Set(starting.deferred.compactMap(\.holdKind)) {
            effects.append(.resolveHold(kind, .stopping))
        }
    }

    private mutating func teardownFinished() {
        guard case .stopping(let stopping) = state else { return }
        move(to: .stopped(stopping.finished()), because: .teardownFinished)
    }

    private mutating func reconfigure(_ configuration: ShutdownConfiguration) {
        self.configuration = configuration
        log(.info, "windows now: quit \(configuration.quitTimeout.quiesceFormatted), SIGTERM \(configuration.sigtermTimeout.quiesceFormatted), answer \(configuration.answerTimeout.quiesceFormatted), stop \(configuration.stopTimeout.quiesceFormatted)")
    }

    private mutating func workChanged(epoch: Int, source: Int, to snapshot: WorkSnapshot) {
        guard var current = watch, current.epoch == epoch, current.snapshots.indices.contains(source) else { return }
        let changed = current.snapshots[source] != snapshot
        current.snapshots[source] = snapshot
        watch = current
        if changed { emit(.workChanged, because: .workChanged) }
    }

    // MARK: Gates, deadlines, subscription

    /// Derives what the interpreter must hold from the state, and asks for what changed.
    ///
    /// Admission is open only while running (rule 1); claims only while running and not across a
    /// sleep (rule 2). Work is followed while a drain or a held delay needs the counts, and not
    /// otherwise: an idle agent is never woken by its sources. Each deadline of the state has one
    /// timer, and none outlives its deadline.
    /// - Returns: whether a subscription started.
    @discardableResult
    private mutating func reconcile() -> Bool {
        let running = state.phase == .running
        let wanted = (admission: running, claims: running && state.holds?.sleep == nil)
        if wanted != gates {
            gates = wanted
            // First, so the gates are set before anyone hears of the phase that set them.
            effects.insert(.gates(admission: wanted.admission, claims: wanted.claims), at: 0)
        }

        let holds = state.holds
        let needsCounts = state.drain != nil || !(holds?.held.isEmpty ?? true)
        let subscribing = needsCounts && watch == nil
        if subscribing {
            epochs += 1
            watch = WorkWatch(epoch: epochs, snapshots: Array(repeating: nil, count: sources.count))
            effects.append(.watchWork(epoch: epochs))
        } else if !needsCounts, watch != nil {
            watch = nil
            effects.append(.unwatchWork)
        }

        var deadlines: [Deadline: Instant] = [:]
        if case .draining(let draining) = state, let drain = draining.drain { deadlines[.drain] = drain.deadline }
        if let ceiling = state.drain?.ceiling { deadlines[.ceiling] = ceiling }
        if let shutdown = holds?.shutdown, shutdown.isHeld { deadlines[.shutdownHold] = shutdown.deadline }
        if let sleep = holds?.sleep, sleep.isHeld { deadlines[.sleepHold] = sleep.deadline }
        for kind in Deadline.allCases {
            switch (armed[kind], deadlines[kind]) {
            case (let old, let new?) where old != new:
                armed[kind] = new
                // A deadline already due needs no timer: ``decide()`` has seen it.
                if new > now { effects.append(.arm(kind, at: new)) } else if old != nil { effects.append(.disarm(kind)) }
            case (.some, nil):
                armed[kind] = nil
                effects.append(.disarm(kind))
            default:
                break
            }
        }
        return subscribing
    }
}
