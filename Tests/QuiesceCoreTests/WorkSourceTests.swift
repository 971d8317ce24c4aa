import Clocks
import InMemoryLogging
import Logging
import QuiesceCore
import Synchronization
import Testing

@Suite("Work sources")
struct WorkSourceTests {
    @Test("a work counter reports every change to every subscriber, in order")
    func counterSignalsChanges() async throws {
        let counter = WorkCounter(name: "sync")
        let changes = counter.changes()
        let seen = Recorder<Int>()
        let reader = Task { for await snapshot in changes { seen.append(snapshot.count) } }
        let a = counter.begin("a")
        try await seen.wait(for: "1") { $0.last == 1 }
        counter.begin("b")
        try await seen.wait(for: "2") { $0.last == 2 }
        counter.end(a)
        counter.end(a)
        try await seen.wait(for: "1 again") { $0.count == 3 }
        #expect(await counter.snapshot() == WorkSnapshot(count: 1, items: ["b"]))
        reader.cancel()
    }

    @Test("many units ended at once make one change, not one each")
    func counterEndsInBulk() async throws {
        let counter = WorkCounter(name: "sessions")
        let tokens = (0..<1000).map { counter.begin("client \($0)") }
        let keep = counter.begin("kept")
        let changes = counter.changes()
        let seen = Recorder<Int>()
        let reader = Task { for await snapshot in changes { seen.append(snapshot.count) } }
        counter.end(tokens)
        try await seen.wait(for: "one change to 1") { $0.last == 1 }
        #expect(seen.items == [1], "a single snapshot for the whole batch")
        counter.end(tokens)
        counter.end([WorkCounter.Token]())
        #expect(await counter.snapshot() == WorkSnapshot(count: 1, items: ["kept"]))
        counter.end(keep)
        try await seen.wait(for: "0") { $0.last == 0 }
        #expect(seen.items == [1, 0], "ending tokens already ended changes nothing")
        reader.cancel()
    }

    @Test("a polling source drains at the next tick of its interval")
    func pollingSourceDrains() async throws {
        let value = Mutex(1)
        let clock = TestClock<Duration>()
        let source = PollingWorkSource(name: "legacy", clock: clock, logger: Logger(label: "test")) {
            value.withLock { $0 }
        }
        let harness = try await Harness.start(sources: [source])
        await harness.coordinator.trigger(.request())
        try await harness.waitForEvent("legacy seen") { $0.work.bySource["legacy"] == 1 }
        value.withLock { $0 = 0 }
        await clock.advance(by: .milliseconds(100))
        #expect(try await harness.result().outcome == .clean)
        #expect(harness.elapsed == .zero, "the coordinator's own clock never moved")
    }

    @Test("nil, throwing and vanished counts read as 0 and are logged once each")
    func pollingReadsDefensively() async throws {
        struct Broken: Error {}
        let logs = InMemoryLogHandler()
        let logger = Logger(label: "test") { _ in logs }
        let clock = TestClock<Duration>()

        let none = PollingWorkSource(name: "none", clock: clock, logger: logger) { nil }
        let throwing = PollingWorkSource(name: "throwing", clock: clock, logger: logger) { throw Broken() }
        let negative = PollingWorkSource(name: "negative", clock: clock, logger: logger) { -4 }
        final class Owner: Sendable { let count = 2 }
        var owner: Owner? = Owner()
        let vanishing = PollingWorkSource(name: "vanishing", watching: owner!, clock: clock, logger: logger) { $0.count }
        #expect(await vanishing.snapshot().count == 2)
        owner = nil

        for source in [none, throwing, negative, vanishing] {
            #expect(await source.snapshot().count == 0)
            #expect(await source.snapshot().count == 0)
        }
        let warnings = logs.entries.map { "\($0.message)" }
        #expect(warnings.count == 4, "one line per source: \(warnings)")
        #expect(warnings.contains { $0.contains("none counts as 0 because it returned no count") })
        #expect(warnings.contains { $0.contains("throwing counts as 0 because reading the count failed") })
        #expect(warnings.contains { $0.contains("negative counts as 0 because it returned a negative count") })
        #expect(warnings.contains { $0.contains("vanishing counts as 0 because its object no longer exists") })
    }

    @Test("configuration errors name the key and the bad value")
    func configurationValidation() {
        #expect(throws: Never.self) { try ShutdownConfiguration().validate() }
        let bad = ShutdownConfiguration(quitTimeout: .seconds(-1))
        #expect(throws: ConfigurationError(key: "shutdown.quit_timeout", value: "-1 s", expected: "zero or more seconds")) {
            try bad.validate()
        }
        #expect(ShutdownConfiguration().effectiveHardExitDeadline == .seconds(4))
    }
}
