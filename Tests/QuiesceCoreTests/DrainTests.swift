import Clocks
import QuiesceCore
import Testing

@Suite("Draining")
struct DrainTests {
    @Test("work that ends before the window runs out: clean stop, no prompt, exit 0")
    func idleBeforeTheWindow() async throws {
        let sessions = WorkCounter(name: "sessions")
        let prompt = ScriptedPrompt()
        let harness = try await Harness.start(sources: [sessions], prompts: [prompt])
        let work = sessions.begin("recording")

        let response = await harness.coordinator.trigger(.request())
        #expect(response.effect == .drainStarted)
        #expect(response.remaining == .seconds(30))
        await harness.clock.advance(by: .seconds(10))
        sessions.end(work)

        let result = try await harness.result()
        #expect(result.outcome == .clean)
        #expect(result.outcome.exitStatus == 0)
        #expect(prompt.asks == 0)
        #expect(!harness.phases.contains(.prompting))
    }

    @Test("sources that can be read at once: a quit that finds nothing running is stopping when the call returns")
    func idleQuitDecidesWithinTheTrigger() async throws {
        let sessions = WorkCounter(name: "sessions")
        let sync = WorkCounter(name: "sync")
        let harness = try await Harness.start(sources: [sessions, sync], prompts: [ScriptedPrompt()])

        let response = await harness.coordinator.trigger(.request())
        #expect(response.effect == .drainStarted)
        #expect(response.phase == .stopping, "decided in the trigger's own step, not after the sources reported")
        #expect(try await harness.result().outcome == .clean)
        #expect(harness.phases == [.running, .draining, .stopping, .stopped])
    }

    @Test("a source that cannot be read at once is awaited: the quit waits for its snapshot")
    func awaitedSourceIsAsked() async throws {
        let slow = AwaitedSource()
        let harness = try await Harness.start(sources: [slow], prompts: [ScriptedPrompt()])

        let response = await harness.coordinator.trigger(.request())
        #expect(response.phase == .draining)
        try await harness.waitForEvent("the drain seeing the source's one unit") { $0.work.total == 1 }
        slow.endWork()
        #expect(try await harness.result().outcome == .clean)
    }

    @Test("a signalling source lets the coordinator proceed with no clock advance at all")
    func eventDrivenProceedsWithoutTime() async throws {
        let sync = WorkCounter(name: "sync")
        let harness = try await Harness.start(sources: [sync], prompts: [ScriptedPrompt()])
        let copy = sync.begin("copy report.pdf")
        let started = harness.clock.now

        await harness.coordinator.trigger(.request())
        try await harness.waitForEvent("the drain seeing the running copy") { $0.work.total == 1 }
        sync.end(copy)

        let result = try await harness.result()
        #expect(result.outcome == .clean)
        #expect(harness.clock.now == started, "the clock was never advanced")
        let idle = harness.events.items.first { if case .transition(.draining, .stopping) = $0.kind { true } else { false } }
        #expect(idle?.reason == .idle)
    }

    @Test("a zero-length window asks at once when work runs, and stops at once when none does")
    func zeroLengthWindow() async throws {
        let sessions = WorkCounter(name: "sessions")
        let prompt = ScriptedPrompt()
        let harness = try await Harness.start(sources: [sessions], prompts: [prompt])
        let work = sessions.begin("editor")

        await harness.coordinator.trigger(.request(timeout: .zero))
        try await prompt.waitForAsk(1)
        #expect(await harness.coordinator.phase == .prompting)
        sessions.end(work)
        #expect(try await harness.result().outcome == .clean)

        let idle = try await Harness.start(sources: [WorkCounter(name: "sessions")], prompts: [ScriptedPrompt()])
        await idle.coordinator.trigger(.request(timeout: .zero))
        #expect(try await idle.result().outcome == .clean)
        #expect(idle.phases == [.running, .draining, .stopping, .stopped])
    }

    @Test("admission closes the moment draining starts; claims close with it")
    func admissionClosesWhenDraining() async throws {
        let sessions = WorkCounter(name: "sessions")
        let harness = try await Harness.start(sources: [sessions], prompts: [ScriptedPrompt()])
        let admission = harness.coordinator.admission
        #expect(admission.isOpen)
        #expect(harness.coordinator.claims.isOpen)
        let first = try admission.admit { sessions.begin("first") }

        await harness.coordinator.trigger(.request())
        #expect(!admission.isOpen)
        #expect(!harness.coordinator.claims.isOpen)
        #expect(throws: GateClosed.self) { try admission.admit { sessions.begin("late") } }
        #expect(sessions.count == 1, "the refused session was never counted")

        sessions.end(first)
        #expect(try await harness.result().outcome == .clean)
    }

    @Test("a second trigger with an equal or longer window changes nothing and reports the state")
    func equalOrLongerTriggerChangesNothing() async throws {
        let sessions = WorkCounter(name: "sessions")
        let harness = try await Harness.start(sources: [sessions], prompts: [ScriptedPrompt()])
        let work = sessions.begin("recording")

        await harness.coordinator.trigger(.request())
        await harness.clock.advance(by: .seconds(1))
        let again = await harness.coordinator.trigger(.request(timeout: .seconds(60)))
        #expect(again.effect == .unchanged)
        #expect(again.phase == .draining)
        #expect(again.remaining == .seconds(29))
        let interrupt = await harness.coordinator.trigger(.interrupt)
        #expect(interrupt.effect == .unchanged, "the first SIGINT has the quit window: 30 s, later than 29 s left")

        sessions.end(work)
        _ = try await harness.result()
    }

    @Test("SIGTERM during a quit drain pulls the deadline in to the SIGTERM window")
    func sigtermPullsTheDeadlineIn() async throws {
        let sessions = WorkCounter(name: "sessions")
        let prompt = ScriptedPrompt()
        let harness = try await Harness.start(sources: [sessions], prompts: [prompt])
        sessions.begin("recording")

        await harness.coordinator.trigger(.request())
        await harness.clock.advance(by: .seconds(2))
        let response = await harness.coordinator.trigger(.terminate)
        #expect(response.effect == .deadlinePulledIn)
        #expect(response.remaining == .seconds(5))

        await harness.pass(.seconds(5))
        try await prompt.waitForAsk(1)
        #expect(harness.elapsed < .seconds(8), "asked at the SIGTERM deadline, long before 30 s")
        prompt.answer(.force)
        #expect(try await harness.result().outcome.exitStatus == 3)
    }

    @Test("a second signal forces at once")
    func secondSignalForces() async throws {
        let sync = WorkCounter(name: "sync")
        let harness = try await Harness.start(sources: [sync], prompts: [ScriptedPrompt()])
        sync.begin("copy big.iso")

        let first = await harness.coordinator.trigger(.terminate)
        #expect(first.effect == .drainStarted)
        let second = await harness.coordinator.trigger(.interrupt)
        #expect(second.effect == .forced)

        let result = try await harness.result()
        #expect(result.outcome == .forced(interrupted: [InterruptedWork(source: "sync", count: 1, items: ["copy big.iso"])]))
        #expect(result.outcome.exitStatus == 3)
    }

    @Test("a quit that arrives while starting is deferred, then carried out")
    func quitWhileStarting() async throws {
        let log = Recorder<String>()
        let gate = StartGate()
        let harness = try await Harness.start(
            prompts: [ScriptedPrompt()],
            components: [RecordingComponent(name: "store", log: log), GatedComponent(name: "dbus", gate: gate)],
            waitForRunning: false)
        try await log.wait(for: "store started") { $0.contains("start store") }

        let response = await harness.coordinator.trigger(.request())
        #expect(response.effect == .deferred)
        #expect(response.phase == .starting)
        await gate.open()

        #expect(try await harness.result().outcome == .clean)
        #expect(harness.phases == [.running, .draining, .stopping, .stopped])
    }

    @Test("the event sequence of a whole quit with a prompt and a Wait")
    func eventSequenceOfAWholeQuit() async throws {
        let sessions = WorkCounter(name: "sessions")
        let prompt = ScriptedPrompt(name: "notification")
        let log = Recorder<String>()
        let harness = try await Harness.start(
            sources: [sessions], prompts: [prompt], components: [RecordingComponent(name: "store", log: log)])
        let work = sessions.begin("recording")

        await harness.coordinator.trigger(.request())
        await harness.pass(.seconds(30))
        try await prompt.waitForAsk(1)
        prompt.answer(.wait)
        try await harness.waitForEvent("back to draining") { if case .transition(.prompting, .draining) = $0.kind { true } else { false } }
        sessions.end(work)
        _ = try await harness.result()

        let summary: [String] = harness.events.items.compactMap { event in
            switch event.kind {
            case .componentStarted(let name): "started \(name)"
            case .transition(let from, let to): "\(from)→\(to) (\(event.reason))"
            case .promptShown(let question): "shown: \(question.summary)"
            case .promptWithdrawn(let names): "withdrawn: \(names)"
            case .componentStopped(let name, let result): "stopped \(name): \(result)"
            default: nil
            }
        }
        #expect(summary == [
            "started store",
            "starting→running (start completed)",
            "running→draining (quit request)",
            "draining→prompting (window ran out)",
            "shown: 1 operation still running. Force quit anyway?",
            "prompting→draining (notification answered wait)",
            "draining→stopping (idle)",
            "stopped store: stopped",
            "stopping→stopped (teardown finished)",
        ])
        let draining = harness.events.items.first { if case .transition(_, .draining) = $0.kind { true } else { false } }
        #expect(draining?.remaining == .seconds(30))
        let prompting = harness.events.items.first { if case .transition(_, .prompting) = $0.kind { true } else { false } }
        #expect(prompting?.work.bySource == ["sessions": 1])
    }
}

/// Holds its `start()` until the test opens it, so a test can act while the agent is starting.
actor StartGate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }

    func pass() async {
        guard !isOpen else { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}

struct GatedComponent: Component {
    let name: String
    let gate: StartGate

    func start() async throws { await gate.pass() }
    func stop() async throws {}
}

/// A work source that answers only through `snapshot()` (as ``PollingWorkSource`` does).
private final class AwaitedSource: WorkSource, Sendable {
    let name = "awaited"
    private let counter = WorkCounter(name: "awaited")
    private let unit: WorkCounter.Token

    init() { unit = counter.begin("unit") }

    func snapshot() async -> WorkSnapshot { await counter.snapshot() }
    func changes() -> AsyncStream<WorkSnapshot> { counter.changes() }
    func endWork() { counter.end(unit) }
}
