import Clocks
import InMemoryLogging
import Logging
@testable import QuiesceCore

/// A coordinator on a test clock, with its events recorded and its `run()` under way.
struct Harness {
    let clock: TestClock<Duration>
    let coordinator: ShutdownCoordinator<TestClock<Duration>>
    let events: Recorder<ShutdownEvent>
    let logs: InMemoryLogHandler
    let run: Task<ShutdownResult, Never>
    /// Ends when the coordinator finishes its event stream, after the last event was recorded.
    let recording: Task<Void, Never>
    let origin: TestClock<Duration>.Instant

    /// Test-clock time since the harness was built.
    var elapsed: Duration { origin.duration(to: clock.now) }

    /// Builds and starts a coordinator; returns once it is running (or has failed).
    static func start(
        configuration: ShutdownConfiguration = ShutdownConfiguration(),
        sources: [any WorkSource] = [],
        prompts: [any Prompt] = [],
        components: [any Component] = [],
        waitForRunning: Bool = true
    ) async throws -> Harness {
        let clock = TestClock<Duration>()
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in logs }
        logger.logLevel = .debug
        let coordinator = ShutdownCoordinator(
            configuration: configuration, clock: clock, sources: sources, prompts: prompts,
            components: components, logger: logger)
        let events = Recorder<ShutdownEvent>()
        let stream = coordinator.events()
        let recording = Task {
            for await event in stream { events.append(event) }
        }
        let run = Task { await coordinator.run() }
        let harness = Harness(
            clock: clock, coordinator: coordinator, events: events, logs: logs, run: run, recording: recording,
            origin: clock.now)
        if waitForRunning { try await harness.waitFor(.running) }
        return harness
    }

    /// Waits until the coordinator has entered `phase`.
    func waitFor(_ phase: Phase) async throws {
        try await events.wait(for: "phase \(phase)") { events in
            events.contains { if case .transition(_, phase) = $0.kind { true } else { false } }
        }
    }

    /// Waits until an event satisfies `condition`.
    @discardableResult
    func waitForEvent(
        _ what: String, _ condition: @escaping @Sendable (ShutdownEvent) -> Bool
    ) async throws -> ShutdownEvent {
        let events = try await events.wait(for: what) { $0.contains(where: condition) }
        return events.first(where: condition)!
    }

    /// The phases entered so far, in order.
    var phases: [Phase] {
        events.items.compactMap { if case .transition(_, let to) = $0.kind { to } else { nil } }
    }

    /// Advances the test clock just past `duration`: deadlines are absolute instants, so landing
    /// strictly after them fires them whenever their timer registered.
    func pass(_ duration: Duration) async {
        await clock.advance(by: duration + .milliseconds(1))
    }

    /// Advances the clock in steps until `run()` returns; used where several timers start one after
    /// another inside teardown.
    func advanceUntilFinished(step: Duration, maxSteps: Int) async throws -> ShutdownResult? {
        for _ in 0..<maxSteps {
            if phases.last == .stopped { return try await result() }
            await clock.advance(by: step)
            await Task.yield()
        }
        return phases.last == .stopped ? try await result() : nil
    }

    /// The result of `run()`, once every event up to `stopped` has been recorded.
    ///
    /// Guarded like every wait here: a coordinator that never stops fails the test instead of
    /// hanging the suite.
    func result() async throws -> ShutdownResult {
        let returned = Recorder<ShutdownResult>()
        let run = run
        Task { returned.append(await run.value) }
        let result = try await returned.wait(for: "run() to return") { !$0.isEmpty }[0]
        await recording.value
        return result
    }

    var logMessages: [String] {
        logs.entries.map { "\($0.message)" }
    }
}
