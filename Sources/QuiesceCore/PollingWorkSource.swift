public import Logging
import Synchronization

/// Wraps a work count that cannot signal its changes, reading it at a fixed interval.
///
/// This is the safety net the protocol keeps for such sources; a signalling source
/// (``WorkCounter`` or your own ``WorkSource``) lets the agent proceed at once instead of at the
/// next tick. Polling runs only while the coordinator is subscribed, that is while it drains:
/// an idle agent is never woken by it.
///
/// The count is read defensively: a read that returns `nil`, throws, finds its object gone or
/// reports a negative number counts as 0, and each kind of problem is logged once, not every tick.
public struct PollingWorkSource<C: Clock>: WorkSource where C.Duration == Duration {
    /// The interval the protocol prescribes for polling sources.
    public static var defaultInterval: Duration { .milliseconds(100) }

    public let name: String
    public let blocksSleep: Bool
    private let interval: Duration
    private let clock: C
    private let read: @Sendable () async throws -> Int?
    private let problems: ProblemLog

    /// - Parameters:
    ///   - name: the source's name in logs, events and the prompt.
    ///   - interval: how often to read while subscribed; 100 ms by default.
    ///   - clock: the clock the interval is measured on (inject a test clock in tests).
    ///   - blocksSleep: whether a system sleep waits for this work.
    ///   - logger: where read problems are reported, once each.
    ///   - read: returns the current count; `nil` means "unknown".
    public init(
        name: String,
        interval: Duration = Self.defaultInterval,
        clock: C,
        blocksSleep: Bool = true,
        logger: Logger,
        read: @escaping @Sendable () async throws -> Int?
    ) {
        self.name = name
        self.interval = interval
        self.clock = clock
        self.blocksSleep = blocksSleep
        self.read = read
        self.problems = ProblemLog(source: name, logger: logger)
    }

    /// Polls a property of an object held weakly: once the object is gone the count is 0.
    public init<Object: AnyObject & Sendable>(
        name: String,
        watching object: Object,
        interval: Duration = Self.defaultInterval,
        clock: C,
        blocksSleep: Bool = true,
        logger: Logger,
        count: @escaping @Sendable (Object) throws -> Int?
    ) {
        let reference = WeakReference(object)
        self.init(
            name: name, interval: interval, clock: clock, blocksSleep: blocksSleep, logger: logger
        ) {
            guard let object = reference.object else { throw ReadProblem.objectGone }
            return try count(object)
        }
    }

    public func snapshot() async -> WorkSnapshot {
        WorkSnapshot(count: await readCount())
    }

    public func changes() -> AsyncStream<WorkSnapshot> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: WorkSnapshot.self, bufferingPolicy: .bufferingNewest(1))
        let poller = Task { [clock, interval] in
            var last: Int?
            while !Task.isCancelled {
                do {
                    try await clock.sleep(for: interval)
                } catch {
                    break
                }
                let count = await readCount()
                if count != last {
                    last = count
                    continuation.yield(WorkSnapshot(count: count))
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in poller.cancel() }
        return stream
    }

    private func readCount() async -> Int {
        let value: Int?
        do {
            value = try await read()
        } catch ReadProblem.objectGone {
            problems.report(.objectGone, "its object no longer exists")
            return 0
        } catch {
            problems.report(.threw, "reading the count failed: \(error)")
            return 0
        }
        guard let value else {
            problems.report(.noValue, "it returned no count")
            return 0
        }
        guard value >= 0 else {
            problems.report(.negative, "it returned a negative count (\(value))")
            return 0
        }
        return value
    }
}

private enum ReadProblem: Error, Hashable {
    case objectGone
    case threw
    case noValue
    case negative
}

/// Remembers which problems a polling source has already logged, so each is logged once.
private final class ProblemLog: Sendable {
    private let source: String
    private let logger: Logger
    private let seen = Mutex(Set<ReadProblem>())

    init(source: String, logger: Logger) {
        self.source = source
        self.logger = logger
    }

    func report(_ problem: ReadProblem, _ what: String) {
        let first = seen.withLock { $0.insert(problem).inserted }
        guard first else { return }
        logger.warning(
            "work source \(source) counts as 0 because \(what); this is logged once",
            metadata: ["work-source": "\(source)"])
    }
}

/// A weak reference that can cross tasks: the object itself is `Sendable`.
private final class WeakReference<Object: AnyObject & Sendable>: Sendable {
    private let box: Mutex<Box>

    private struct Box: @unchecked Sendable {
        // Safe: `Object` is Sendable and the box is only touched under the mutex.
        weak var object: Object?
    }

    init(_ object: Object) {
        box = Mutex(Box(object: object))
    }

    var object: Object? { box.withLock { $0.object } }
}
