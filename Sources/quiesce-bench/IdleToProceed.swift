import Logging
import QuiesceCore

/// Row 1: from the moment the last work ends to the moment the coordinator proceeds to stop, in
/// process, with a signalling source — beside the same drain with a polling-only source.
///
/// The clock starts when the test ends the last unit of work and stops when the subscriber sees
/// the `draining → stopping` event, so event delivery is included in the figure.
enum IdleToProceed {
    static func run(iterations: Int, pollingIterations: Int) async -> Row {
        _ = await measure(iterations: 20, polling: false)  // warm-up: first-run allocations, lazy init
        let eventDriven = await measure(iterations: iterations, polling: false)
        let polling = await measure(iterations: pollingIterations, polling: true)
        let goal = Duration.milliseconds(1)
        return Row(
            what: "Idle-to-proceed, in process (n=\(eventDriven.count))",
            baseline: "polling every 100 ms (n=\(polling.count)): median \(polling.median.readable), p99 \(polling.p99.readable)",
            goal: "≤ \(goal.readable) p99",
            measured: "median \(eventDriven.median.readable), p99 \(eventDriven.p99.readable)",
            passed: eventDriven.p99 <= goal,
            howToRead: """
                time from the last unit of work ending to the coordinator entering `stopping`, as seen \
                by an event subscriber. The event-driven figure should be far below the polling \
                baseline, whose median sits near half its 100 ms interval: that gap is what rule 3 of \
                the protocol buys. In the baseline the work ends at a random phase of the interval.
                """)
    }

    private static func measure(iterations: Int, polling: Bool) async -> Samples {
        var samples = Samples()
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        for _ in 0..<iterations {
            let counter = WorkCounter(name: "work")
            let source: any WorkSource =
                polling
                ? PollingWorkSource(name: "work", clock: ContinuousClock(), logger: logger) { counter.count }
                : counter
            let coordinator = ShutdownCoordinator(clock: ContinuousClock(), sources: [source], logger: logger)
            var events = coordinator.events().makeAsyncIterator()
            let run = Task { await coordinator.run() }
            let work = counter.begin("job")
            while let event = await events.next() {
                if case .transition(_, .running) = event.kind { break }
            }
            await coordinator.trigger(.request())
            while let event = await events.next() {
                if event.kind == .workChanged && event.work.total == 1 { break }
            }
            if polling {
                // End the work at a random phase of the poll interval, as real work would.
                try? await Task.sleep(for: .microseconds(Int.random(in: 0..<100_000)))
            }
            let start = ContinuousClock.now
            counter.end(work)
            while let event = await events.next() {
                if case .transition(_, .stopping) = event.kind { break }
            }
            samples.append(start.duration(to: .now))
            _ = await run.value
        }
        return samples
    }
}
