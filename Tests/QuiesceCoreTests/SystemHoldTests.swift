import Clocks
import QuiesceCore
import Testing

@Suite("System shutdown and sleep")
struct SystemHoldTests {
    @Test("shutdown: admission closes, the hold is released when work ends, and the agent stays up")
    func shutdownReleasedWhenIdle() async throws {
        let sync = WorkCounter(name: "sync")
        let harness = try await Harness.start(sources: [sync], prompts: [ScriptedPrompt()])
        let copy = sync.begin("copy a.txt")

        let response = await harness.coordinator.trigger(.systemShutdown(window: .seconds(4)))
        let hold = try #require(response.hold)
        #expect(response.phase == .draining)
        #expect(!harness.coordinator.admission.isOpen)
        #expect(!harness.coordinator.claims.isOpen)
        try await harness.waitForEvent("the copy seen") { $0.work.total == 1 }
        sync.end(copy)

        #expect(await hold.released() == .idle)
        #expect(await harness.coordinator.phase == .draining, "stays up for systemd's SIGTERM")

        await harness.coordinator.trigger(.terminate)
        #expect(try await harness.result().outcome == .clean)
    }

    @Test("shutdown: the hold is released when the window runs out, even with work running")
    func shutdownReleasedAtTheWindow() async throws {
        let sync = WorkCounter(name: "sync")
        let prompt = ScriptedPrompt()
        let harness = try await Harness.start(sources: [sync], prompts: [prompt])
        sync.begin("copy big.iso")
        let hold = try #require(await harness.coordinator.trigger(.systemShutdown(window: .seconds(4))).hold)
        await harness.pass(.seconds(4))
        #expect(await hold.released() == .windowElapsed)
        #expect(prompt.asks == 0, "the system does not wait for an answer: no prompt")
        await harness.coordinator.trigger(.force)
        _ = try await harness.result()
    }

    @Test("shutdown cancelled: back to running, admission open again")
    func shutdownCancelled() async throws {
        let sync = WorkCounter(name: "sync")
        let harness = try await Harness.start(sources: [sync])
        let hold = try #require(await harness.coordinator.trigger(.systemShutdown(window: .seconds(4))).hold)
        #expect(await hold.released() == .idle)
        await harness.coordinator.resume(.shutdown)
        #expect(await harness.coordinator.phase == .running)
        #expect(harness.coordinator.admission.isOpen)
        #expect(harness.coordinator.claims.isOpen)
        await harness.coordinator.trigger(.request())
        #expect(try await harness.result().outcome == .clean)
    }

    @Test("shutdown during a quit keeps the quit going when the shutdown is cancelled")
    func shutdownDuringQuit() async throws {
        let sessions = WorkCounter(name: "sessions")
        let harness = try await Harness.start(sources: [sessions], prompts: [ScriptedPrompt()])
        let work = sessions.begin("recording")
        await harness.coordinator.trigger(.request())
        let hold = try #require(await harness.coordinator.trigger(.systemShutdown(window: .seconds(4))).hold)
        await harness.pass(.seconds(4))
        #expect(await hold.released() == .windowElapsed)
        await harness.coordinator.resume(.shutdown)
        #expect(await harness.coordinator.phase == .draining)
        sessions.end(work)
        #expect(try await harness.result().outcome == .clean)
    }

    @Test("sleep: claims pause, sessions do not hold it up, in-flight copies do; claims resume on wake")
    func sleepPausesClaims() async throws {
        let sessions = WorkCounter(name: "sessions", blocksSleep: false)
        let sync = WorkCounter(name: "sync")
        let harness = try await Harness.start(sources: [sessions, sync])
        sessions.begin("recording")
        let copy = sync.begin("copy a.txt")

        let hold = try #require(await harness.coordinator.trigger(.systemSleep(window: .seconds(4))).hold)
        #expect(await harness.coordinator.phase == .running)
        #expect(harness.coordinator.admission.isOpen, "sessions may still open")
        #expect(!harness.coordinator.claims.isOpen)
        try await harness.waitForEvent("the copy seen") { $0.work.bySource["sync"] == 1 }
        sync.end(copy)
        #expect(await hold.released() == .idle)

        let woken = Task { try await harness.coordinator.claims.waitUntilOpen() }
        await harness.coordinator.resume(.sleep)
        try await woken.value
        #expect(harness.coordinator.claims.isOpen)
        await harness.coordinator.trigger(.force)
        _ = try await harness.result()
    }

    @Test("a system shutdown while starting is held until start completes")
    func shutdownWhileStarting() async throws {
        let gate = StartGate()
        let harness = try await Harness.start(components: [GatedComponent(name: "dbus", gate: gate)], waitForRunning: false)
        let response = await harness.coordinator.trigger(.systemShutdown(window: .seconds(4)))
        #expect(response.effect == .deferred)
        let hold = try #require(response.hold)
        await gate.open()
        #expect(await hold.released() == .idle)
        await harness.coordinator.trigger(.terminate)
        #expect(try await harness.result().outcome == .clean)
    }
}
