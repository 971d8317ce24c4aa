import Clocks
import QuiesceCore
import Testing

@Suite("Teardown")
struct TeardownTests {
    @Test("components start in order and stop in reverse order")
    func teardownOrder() async throws {
        let log = Recorder<String>()
        let harness = try await Harness.start(components: ["store", "sync", "dbus", "inhibitor"].map {
            RecordingComponent(name: $0, log: log)
        })
        await harness.coordinator.trigger(.request())
        let result = try await harness.result()
        #expect(log.items == [
            "start store", "start sync", "start dbus", "start inhibitor",
            "stop inhibitor", "stop dbus", "stop sync", "stop store",
        ])
        #expect(result.teardown.components.map(\.result) == Array(repeating: .stopped, count: 4))
    }

    @Test("a component that hangs past the hard exit deadline is named, and the rest are reported not reached")
    func hangingComponentHitsTheHardDeadline() async throws {
        let log = Recorder<String>()
        let configuration = ShutdownConfiguration(stopTimeout: .seconds(2))
        let harness = try await Harness.start(
            configuration: configuration,
            components: [
                RecordingComponent(name: "store", log: log),
                RecordingComponent(name: "worker", log: log, behaviour: .hangsOnStop, stopTimeout: .seconds(60)),
            ])
        await harness.coordinator.trigger(.request())
        try await log.wait(for: "worker stopping") { $0.contains("stop worker") }

        let result = try #require(try await harness.advanceUntilFinished(step: .milliseconds(500), maxSteps: 40))
        #expect(result.teardown.hungComponent == "worker")
        #expect(result.teardown.components == [
            ComponentStop(name: "worker", result: .hung),
            ComponentStop(name: "store", result: .notReached),
        ])
        #expect(harness.elapsed >= configuration.effectiveHardExitDeadline)
        #expect(harness.elapsed < .seconds(60), "did not wait for the worker's own timeout")
        #expect(harness.logMessages.contains { $0.contains("component worker did not stop before the hard exit deadline") })
    }

    @Test("a component that outruns its stop timeout is left behind and teardown goes on")
    func stopTimeoutMovesOn() async throws {
        let log = Recorder<String>()
        let harness = try await Harness.start(
            configuration: ShutdownConfiguration(stopTimeout: .seconds(1), hardExitDeadline: .seconds(10)),
            components: [
                RecordingComponent(name: "store", log: log),
                RecordingComponent(name: "worker", log: log, behaviour: .hangsOnStop),
            ])
        await harness.coordinator.trigger(.request())
        try await log.wait(for: "worker stopping") { $0.contains("stop worker") }

        let result = try #require(try await harness.advanceUntilFinished(step: .milliseconds(250), maxSteps: 40))
        #expect(result.teardown.components == [
            ComponentStop(name: "worker", result: .timedOut),
            ComponentStop(name: "store", result: .stopped),
        ])
        #expect(result.teardown.hungComponent == nil)
    }

    @Test("a component left behind that returns later does not stop the rest a second time; a failed stop is reported and teardown goes on")
    func abandonedStopDoesNotRunTheRestTwice() async throws {
        let log = Recorder<String>()
        let harness = try await Harness.start(
            configuration: ShutdownConfiguration(stopTimeout: .seconds(1), hardExitDeadline: .seconds(10)),
            components: [
                RecordingComponent(name: "store", log: log),
                RecordingComponent(name: "cache", log: log, behaviour: .failsToStop),
                RecordingComponent(name: "worker", log: log, behaviour: .stopsWhenCancelled),
            ])
        await harness.coordinator.trigger(.request())
        try await log.wait(for: "worker stopping") { $0.contains("stop worker") }

        let result = try #require(try await harness.advanceUntilFinished(step: .milliseconds(250), maxSteps: 40))
        #expect(result.teardown.components == [
            ComponentStop(name: "worker", result: .timedOut),
            ComponentStop(name: "cache", result: .failed("the test told it to fail its stop")),
            ComponentStop(name: "store", result: .stopped),
        ])
        try await log.wait(for: "the worker's cancelled stop returning") { $0.contains("worker cancelled") }
        #expect(log.items.filter { $0 == "stop cache" }.count == 1)
        #expect(log.items.filter { $0 == "stop store" }.count == 1)
    }

    @Test("a component that fails to start rolls back what started, in reverse: exit 1")
    func failedStartRollsBack() async throws {
        let log = Recorder<String>()
        let harness = try await Harness.start(
            components: [
                RecordingComponent(name: "store", log: log),
                RecordingComponent(name: "sync", log: log),
                RecordingComponent(name: "dbus", log: log, behaviour: .failsToStart),
                RecordingComponent(name: "inhibitor", log: log),
            ],
            waitForRunning: false)
        let result = try await harness.result()
        #expect(result.outcome == .failedToStart(component: "dbus", error: "the test told it to fail"))
        #expect(result.outcome.exitStatus == 1)
        #expect(log.items == ["start store", "start sync", "stop sync", "stop store"])
        #expect(harness.phases == [.failed])
    }

    @Test("triggers after the stop are ignored and say so")
    func triggersAfterStopAreIgnored() async throws {
        let harness = try await Harness.start()
        await harness.coordinator.trigger(.request())
        _ = try await harness.result()
        let late = await harness.coordinator.trigger(.terminate)
        #expect(late.effect == .ignored)
        #expect(late.phase == .stopped)
    }
}
