import Foundation
@testable import QuiesceCore

/// An instant on a line of seconds: the machine needs nothing more of a clock.
struct Tick: InstantProtocol {
    var offset: Duration

    func advanced(by duration: Duration) -> Tick { Tick(offset: offset + duration) }
    func duration(to other: Tick) -> Duration { other.offset - offset }
    static func < (lhs: Tick, rhs: Tick) -> Bool { lhs.offset < rhs.offset }
}

/// Runs a `ShutdownMachine` the way the coordinator does, with no tasks and no clock: armed
/// deadlines fire as time is moved past them, sources report at once when followed, and every
/// transition is written down with the second it happened at.
struct MachineScript {
    /// One thing that happens at a given second.
    enum Act {
        case input(MachineInput)
        /// The work sources' counts change (one count a source).
        case work([Int])
        /// Prompt `prompt` answers the question showing now.
        case answer(prompt: Int, PromptAnswer)
    }

    private(set) var machine: ShutdownMachine<Tick>
    private var now = Tick(offset: .zero)
    private var armed: [Deadline: Tick] = [:]
    private var counts: [Int]
    private var epoch: Int?
    private var round: Int?
    /// "5 prompting", "20 stopping (no answer by the ceiling (rule 10))": every transition.
    private(set) var transitions: [String] = []
    private(set) var effects: [MachineEffect<Tick>] = []
    private(set) var responses: [TriggerResponse.Effect] = []
    private(set) var gates: (admission: Bool, claims: Bool) = (false, false)

    init(_ configuration: ShutdownConfiguration = ShutdownConfiguration(), sources: Int = 1, prompts: Int = 1) {
        machine = ShutdownMachine(
            configuration: configuration,
            sources: (0..<sources).map { WorkSourceInfo(name: "source\($0)", blocksSleep: true) },
            prompts: (0..<prompts).map { "prompt\($0)" }, now: now)
        counts = Array(repeating: 0, count: sources)
    }

    /// Runs the machine through `acts`, each at its second, firing deadlines on the way, then on
    /// to `until` (every deadline up to then fires).
    static func run(
        _ acts: [(Double, Act)], configuration: ShutdownConfiguration = ShutdownConfiguration(), sources: Int = 1,
        prompts: Int = 1, until end: Double = 10_000
    ) -> MachineScript {
        var script = MachineScript(configuration, sources: sources, prompts: prompts)
        script.feed(.startCompleted)
        for (second, act) in acts {
            script.advance(to: second)
            script.perform(act)
        }
        script.advance(to: end)
        return script
    }

    var phase: Phase { machine.phase }

    var events: [ShutdownEvent] {
        effects.compactMap { effect -> ShutdownEvent? in if case .emit(let event) = effect { event } else { nil } }
    }

    /// How the hold of `kind` was resolved, each time.
    func releases(_ kind: SystemHoldKind) -> [HoldRelease] {
        effects.compactMap { effect -> HoldRelease? in
            if case .resolveHold(kind, let release) = effect { release } else { nil }
        }
    }

    var heldKinds: [SystemHoldKind] {
        effects.compactMap { effect -> SystemHoldKind? in if case .takeHold(let kind) = effect { kind } else { nil } }
    }
    var forgotten: [SystemHoldKind] {
        effects.compactMap { effect -> SystemHoldKind? in if case .forgetHold(let kind) = effect { kind } else { nil } }
    }
    var teardowns: [StopDecision] {
        effects.compactMap { effect -> StopDecision? in if case .beginTeardown(let decision) = effect { decision } else { nil } }
    }
    var armedDeadlines: [Deadline] {
        effects.compactMap { effect -> Deadline? in if case .arm(let deadline, _) = effect { deadline } else { nil } }
    }
    var disarmedDeadlines: [Deadline] {
        effects.compactMap { effect -> Deadline? in if case .disarm(let deadline) = effect { deadline } else { nil } }
    }
    var rounds: [Int] {
        effects.compactMap { effect -> Int? in if case .showPrompts(let round, _) = effect { round } else { nil } }
    }
    var watches: [Int] {
        effects.compactMap { effect -> Int? in if case .watchWork(let epoch) = effect { epoch } else { nil } }
    }

    mutating func perform(_ act: Act) {
        switch act {
        case .input(let input):
            feed(input)
        case .work(let new):
            counts = new
            report()
        case .answer(let prompt, let answer):
            guard let round else { return }
            feed(.promptAnswered(round: round, prompt: prompt, answer))
        }
    }

    mutating func advance(to second: Double) {
        let target = Tick(offset: .milliseconds(Int64((second * 1000).rounded())))
        while let (deadline, at) = armed.min(by: { $0.value < $1.value }), at <= target {
            armed[deadline] = nil
            now = at
            feed(.clock)
        }
        if target > now { now = target }
    }

    mutating func feed(_ input: MachineInput) {
        let step = machine.handle(input, at: now)
        if let response = step.response { responses.append(response) }
        var subscribed = false
        for effect in step.effects {
            effects.append(effect)
            switch effect {
            case .arm(let deadline, let at): armed[deadline] = at
            case .disarm(let deadline): armed[deadline] = nil
            case .watchWork(let new):
                epoch = new
                subscribed = true
            case .unwatchWork: epoch = nil
            case .showPrompts(let id, _): round = id
            case .withdrawPrompts: round = nil
            case .gates(let admission, let claims): gates = (admission, claims)
            case .emit(let event):
                if case .transition(_, let to) = event.kind {
                    var line = "\(Self.format(now)) \(to)"
                    if to == .stopping { line += " (\(event.reason))" }
                    transitions.append(line)
                }
            default: break
            }
        }
        if subscribed { report() }
    }

    /// Every source reports its count, as a subscription does when it starts and on each change.
    private mutating func report() {
        guard let epoch else { return }
        for (index, count) in counts.enumerated() {
            feed(.workChanged(epoch: epoch, source: index, WorkSnapshot(count: count, items: (0..<count).map { "work \(index).\($0)" })))
        }
    }

    private static func format(_ tick: Tick) -> String {
        let (seconds, attoseconds) = tick.offset.components
        if attoseconds == 0 { return "\(seconds)" }
        return String(format: "%g", Double(seconds) + Double(attoseconds) / 1e18)
    }
}
