import Foundation
import Logging
import QuiesceCore
import QuiesceDBus
import Synchronization

/// `PrepareForShutdown(true)` → our delay lock released, for an idle holder, against the real
/// systemd-logind of the rig (whose service manager is python-dbusmock: nothing powers off).
///
/// The holder is wired as the agent wires it: the signal becomes a `systemShutdown` trigger of a
/// running coordinator with no work, whose hold resolves at once; the lock is released when it
/// does, and re-taken after `PrepareForShutdown(false)`. An observer on a second connection calls
/// `PowerOff` and watches the same signals. The baseline is logind's own cycle with no lock held:
/// `(true)` → `StartUnit` on the mock → `(false)`, as the observer sees it.
enum LogindRelease {
    /// What the holder saw and did in one cycle.
    private struct Cycle {
        var holderSaw: ContinuousClock.Instant?
        var released: ContinuousClock.Instant?
    }

    static func run(systemAddress: String, cycles: Int) async throws -> Row {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let clock = ContinuousClock()
        let observerConnection = try await BusConnection.open(address: systemAddress, label: "bench observer")
        let holderConnection = try await BusConnection.open(address: systemAddress, label: "bench holder")
        defer {
            observerConnection.close()
            holderConnection.close()
        }
        let observer = LogindManager(connection: observerConnection)
        var announcements = try await observer.prepareForShutdown().makeAsyncIterator()

        // Baseline: nobody holds a lock.
        var baseline = Samples()
        for _ in 0..<cycles {
            try await observer.powerOff()
            guard await announcements.next() == true else { throw BenchmarkError(message: "no PrepareForShutdown(true)") }
            let start = clock.now
            guard await announcements.next() == false else { throw BenchmarkError(message: "no PrepareForShutdown(false)") }
            baseline.append(start.duration(to: clock.now))
        }

        // The idle holder.
        let logind = LogindManager(connection: holderConnection)
        let lock = InhibitorLock(logind: logind, who: "quiesce-bench", why: "measuring the release", logger: logger)
        try await lock.start()
        guard lock.isHeld else { throw BenchmarkError(message: "logind gave no delay lock") }
        let coordinator = ShutdownCoordinator(clock: clock, sources: [], logger: logger)
        var events = coordinator.events().makeAsyncIterator()
        let running = Task { await coordinator.run() }
        while let event = await events.next() {
            if case .transition(_, .running) = event.kind { break }
        }
        let cycle = Mutex(Cycle())
        let (retaken, retakenContinuation) = AsyncStream.makeStream(of: Void.self)
        let signals = try await logind.prepareForShutdown()
        let holder = Task {
            for await active in signals {
                if active {
                    cycle.withLock { $0.holderSaw = clock.now }
                    _ = await coordinator.trigger(.systemShutdown(window: .seconds(5))).hold?.released()
                    lock.release()
                    cycle.withLock { $0.released = clock.now }
                } else {
                    await coordinator.resume(.shutdown)
                    await lock.retake()
                    retakenContinuation.yield()
                }
            }
        }
        var retakes = retaken.makeAsyncIterator()
        var release = Samples()
        var endToEnd = Samples()
        for _ in 0..<cycles {
            cycle.withLock { $0 = Cycle() }
            try await observer.powerOff()
            guard await announcements.next() == true else { throw BenchmarkError(message: "no PrepareForShutdown(true)") }
            let observed = clock.now
            guard await announcements.next() == false else { throw BenchmarkError(message: "no PrepareForShutdown(false)") }
            endToEnd.append(observed.duration(to: clock.now))
            await retakes.next()
            guard lock.isHeld else { throw BenchmarkError(message: "the lock was not taken again") }
            let (saw, released) = cycle.withLock { ($0.holderSaw, $0.released) }
            guard let saw, let released else { throw BenchmarkError(message: "the holder missed a cycle") }
            // The signal reached both connections at about the same moment; whichever task ran
            // first marks it.
            release.append(min(saw, observed).duration(to: released))
        }
        holder.cancel()
        lock.stop()
        await coordinator.trigger(.force)
        _ = await running.value

        let goal = Duration.milliseconds(5)
        return Row(
            what: "PrepareForShutdown(true) → delay lock released, idle holder, real logind (n=\(release.count))",
            baseline: "logind's cycle (true) → (false) with no lock: median \(baseline.median.readable), p99 \(baseline.p99.readable); with our lock: median \(endToEnd.median.readable), p99 \(endToEnd.p99.readable)",
            goal: "≤ \(goal.readable) p99",
            measured: "median \(release.median.readable), p99 \(release.p99.readable)",
            passed: release.p99 <= goal,
            howToRead: """
                from the moment `PrepareForShutdown(true)` reaches this process to the moment our \
                inhibitor fd is closed, with the coordinator deciding (it is idle, so the hold resolves \
                at once). The baseline column shows logind's whole cycle as an observer sees it, with and \
                without our lock held: the difference is the delay our lock adds to a shutdown.
                """)
    }
}
