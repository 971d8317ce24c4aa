import Synchronization

/// How one component's stop went.
public struct ComponentStop: Sendable, Hashable {
    public enum Result: Sendable, Hashable, CustomStringConvertible {
        case stopped
        /// `stop()` threw; the message is the error's.
        case failed(String)
        /// `stop()` outran its stop timeout; it was cancelled and teardown went on.
        case timedOut
        /// The hard exit deadline passed while this component was stopping.
        case hung
        /// The hard exit deadline passed before this component's turn.
        case notReached

        public var description: String {
            switch self {
            case .stopped: "stopped"
            case .failed(let message): "failed: \(message)"
            case .timedOut: "timed out"
            case .hung: "hung past the hard exit deadline"
            case .notReached: "not reached before the hard exit deadline"
            }
        }
    }

    public var name: String
    public var result: Result

    public init(name: String, result: Result) {
        self.name = name
        self.result = result
    }
}

/// What teardown did, component by component, in stop (reverse start) order.
public struct TeardownReport: Sendable, Hashable {
    public var components: [ComponentStop] = []

    /// The component that was stopping when the hard exit deadline passed: the process must exit
    /// now, and the log names this one.
    public var hungComponent: String? {
        components.first { $0.result == .hung }?.name
    }
}

/// Stops `components` in reverse order, each within its stop timeout, all within `hardDeadline`.
///
/// A component that outruns its own timeout is cancelled and left behind; teardown goes on with
/// the next. When the hard deadline passes, teardown returns at once, naming the component it was
/// waiting for: the caller exits the process even though that component never returned.
///
/// Why one task and one timer for the whole pass, not a race per component: every task started
/// and every timer armed is a thread woken (50–100 µs each on a small VM), and an idle agent's
/// quit is mostly teardown. The stops run one after another in a task of their own; the caller
/// sleeps until the limit of the component stopping now and, when it wakes, looks at how far the
/// pass has come. `stopped` is called for each component in order, when the pass ends or the
/// watchdog wakes.
func tearDown<C: Clock>(
    _ components: [any Component],
    clock: C,
    stopTimeout: Duration,
    hardDeadline: C.Instant,
    isolation: isolated (any Actor)? = #isolation,
    stopped: (ComponentStop) -> Void
) async -> TeardownReport where C.Duration == Duration {
    let order = Array(components.reversed())
    var report = TeardownReport()
    func record(_ result: ComponentStop.Result, of index: Int) {
        let stop = ComponentStop(name: order[index].name, result: result)
        report.components.append(stop)
        stopped(stop)
    }
    var first = 0
    while first < order.count {
        let pass = TeardownPass(order, from: first, clock: clock)
        // Watch the pass until it ends or the component stopping now runs out of time. Which
        // one that is and whether all have stopped are read together: read apart, the last one
        // could stop in between, and the watchdog looked past the end of the list (a trap that
        // ended agentd with SIGILL once in the benchmarks' quits).
        while case let (current, since)? = pass.stopping {
            let limit = min(since.advanced(by: order[current].stopTimeout ?? stopTimeout), hardDeadline)
            let timer = Task {
                do { try await clock.sleep(until: limit, tolerance: nil) } catch { return }
                pass.wake()
            }
            await pass.wait()
            timer.cancel()
            if pass.isFinished { break }
            guard clock.now >= limit, pass.abandon(current, startedAt: since) else { continue }
            for (index, result) in pass.takeResults() { record(result, of: index) }
            if limit == hardDeadline {
                record(.hung, of: current)
                for skipped in (current + 1)..<order.count { record(.notReached, of: skipped) }
                return report
            }
            record(.timedOut, of: current)
            break
        }
        if pass.isFinished {
            for (index, result) in pass.takeResults() { record(result, of: index) }
            return report
        }
        first = pass.current.0 + 1
    }
    return report
}

/// One pass of stops, from a given component to the last, in a task of its own, as the watchdog
/// in ``tearDown(_:clock:stopTimeout:hardDeadline:isolation:stopped:)`` sees it.
private final class TeardownPass<C: Clock>: Sendable where C.Duration == Duration {
    private struct State {
        /// The component stopping now (after the last, once all have), and since when.
        var current: Int
        var since: C.Instant
        /// How many components there are.
        let count: Int
        /// Results not yet taken by the watchdog, in order.
        var results: [(Int, ComponentStop.Result)] = []
        var finished = false
        /// The watchdog gave up on the component stopping now: the task must not go on.
        var abandoned = false
        var waiter: CheckedContinuation<Void, Never>?
        /// A wake-up that came while the watchdog was not waiting, kept for its next wait.
        var woken = false
    }

    private let state: Mutex<State>
    private let runner: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(_ order: [any Component], from first: Int, clock: C) {
        state = Mutex(State(current: first, since: clock.now, count: order.count))
        let task = Task.detached { [self] in
            for index in first..<order.count {
                let result: ComponentStop.Result
                do {
                    try await order[index].stop()
                    result = .stopped
                } catch {
                    result = .failed("\(error)")
                }
                guard end(index, result, at: clock.now) else { return }
            }
        }
        runner.withLock { $0 = task }
    }

    var current: (Int, C.Instant) { state.withLock { ($0.current, $0.since) } }
    var isFinished: Bool { state.withLock { $0.finished } }
    /// The component stopping now and since when; nil once all have stopped.
    var stopping: (Int, C.Instant)? { state.withLock { $0.finished ? nil : ($0.current, $0.since) } }

    /// `index` stopped; false when the watchdog had given up on it (the task ends there).
    private func end(_ index: Int, _ result: ComponentStop.Result, at instant: C.Instant) -> Bool {
        let (goOn, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !state.abandoned else { return (false, nil) }
            state.results.append((index, result))
            state.current = index + 1
            state.since = instant
            guard state.current == state.count else { return (true, nil) }
            state.finished = true
            return (true, Self.wakeUp(&state))
        }
        waiter?.resume()
        return goOn
    }

    /// The watchdog gives up on the component stopping now, unless it has stopped meanwhile.
    func abandon(_ index: Int, startedAt since: C.Instant) -> Bool {
        let gaveUp = state.withLock { state -> Bool in
            guard !state.finished, state.current == index, state.since == since else { return false }
            state.abandoned = true
            return true
        }
        if gaveUp { runner.withLock { $0?.cancel() } }
        return gaveUp
    }

    func takeResults() -> [(Int, ComponentStop.Result)] {
        state.withLock { state in
            defer { state.results = [] }
            return state.results
        }
    }

    /// A limit passed: the watchdog looks.
    func wake() {
        state.withLock { Self.wakeUp(&$0) }?.resume()
    }

    /// The watchdog's continuation to resume now or, when it is not waiting, the wake-up kept for
    /// its next wait.
    private static func wakeUp(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        guard let waiter = state.waiter else {
            state.woken = true
            return nil
        }
        state.waiter = nil
        return waiter
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.woken {
                    state.woken = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}
