import Clocks
import Glibc
import Logging
import QuiesceCore
import QuiesceServiceLifecycle
import QuiesceTestSupport
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// Serialized: one test sends a real SIGTERM to this process.
@Suite("swift-service-lifecycle adapter", .serialized)
struct QuiesceServiceTests {
    /// A service that records when it runs and when the group tells it to shut down.
    actor MockService: Service {
        let name: String
        let log: EventLog

        init(name: String, log: EventLog) {
            self.name = name
            self.log = log
        }

        func run() async throws {
            log.append("run \(name)")
            try? await gracefulShutdown()
            log.append("shutdown \(name)")
        }
    }

    final class EventLog: Sendable {
        private let entries = Mutex<[String]>([])
        func append(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    private func group(
        _ quiesce: QuiesceService<TestClock<Duration>>, log: EventLog
    ) -> ServiceGroup {
        let logger = Logger(label: "group")
        return ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: MockService(name: "store", log: log)),
                .init(service: MockService(name: "worker", log: log)),
                .init(service: quiesce, successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            logger: logger))
    }

    @Test("the group's graceful shutdown drains first, then stops the other services in reverse order")
    func gracefulShutdownDrainsThenTearsDown() async throws {
        let log = EventLog()
        let work = WorkCounter(name: "sessions")
        let clock = TestClock<Duration>()
        let coordinator = ShutdownCoordinator(clock: clock, sources: [work], logger: Logger(label: "quiesce"))
        let service = QuiesceService(coordinator: coordinator, trapSignals: false)
        let session = work.begin("recording")

        try await testGracefulShutdown { trigger in
            let group = group(service, log: log)
            async let running: Void = group.run()
            try await eventually("running") { await coordinator.phase == .running }
            trigger.triggerGracefulShutdown()
            try await eventually("draining") { await coordinator.phase == .draining }
            #expect(log.all.filter { $0.hasPrefix("shutdown") }.isEmpty, "nothing is torn down while work runs")
            work.end(session)
            try await running
        }
        #expect(await coordinator.phase == .stopped)
        #expect(log.all.suffix(2) == ["shutdown worker", "shutdown store"])
    }

    @Test("SIGTERM uses the SIGTERM window and the group follows when the drain ends")
    func sigtermStartsTheShortWindow() async throws {
        let log = EventLog()
        let work = WorkCounter(name: "sync")
        let clock = TestClock<Duration>()
        let coordinator = ShutdownCoordinator(clock: clock, sources: [work], logger: Logger(label: "quiesce"))
        let service = QuiesceService(coordinator: coordinator)
        work.begin("copy big.iso")

        let group = group(service, log: log)
        async let running: Void = group.run()
        try await eventually("running") { await coordinator.phase == .running }
        kill(getpid(), SIGTERM)
        try await eventually("draining") { await coordinator.phase == .draining }
        #expect(await coordinator.status().remaining == .seconds(5))
        await clock.advance(by: .seconds(5) + .milliseconds(1))
        try await running
        #expect(await coordinator.phase == .stopped)
        #expect(log.all.suffix(2) == ["shutdown worker", "shutdown store"])
    }
}
