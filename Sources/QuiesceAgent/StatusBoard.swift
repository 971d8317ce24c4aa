import Foundation
public import QuiesceCore
import QuiesceDBus
import QuiesceInterface
import QuiesceStore
import Synchronization

/// The agent's D-Bus properties, kept current from the coordinator's events and the store, and
/// announced with `PropertiesChanged` when they change.
///
/// The property getters answer from here, on the bus queue, without touching the database: a
/// `Status` with 100,000 queued jobs must not wait for a count.
public final class StatusBoard: Sendable {
    public struct Values: Sendable, Hashable {
        public var state: Phase = .starting
        public var activeSessions = 0
        public var inFlightJobs = 0
        public var queuedJobs = 0
        public var failedJobs = 0
        /// Unix milliseconds when the current window runs out; 0 when none runs.
        public var deadline: Int64 = 0
        public var syncWaiting = ""
        /// "clean" or "forced" once stopping; "" before.
        public var outcome = ""
        /// What runs, sessions first, then copies: at most ``StatusBoard/runningLines``.
        public var running: [String] = []
        /// The user paused sync.
        public var syncPaused = false

        /// Each property of the interface with how its value is read from the values. Keyed by the
        /// generated constants, so a name cannot be mistyped; ``StatusBoard/properties()`` checks at
        /// start that every property of the XML is here with its type.
        static let columns: [(property: AgentInterface.Property, value: @Sendable (Values) -> DBusValue)] = [
            (.state, { .string($0.state.rawValue) }),
            (.activeSessions, { .uint32(UInt32(clamping: $0.activeSessions)) }),
            (.inFlightJobs, { .uint32(UInt32(clamping: $0.inFlightJobs)) }),
            (.queuedJobs, { .uint32(UInt32(clamping: $0.queuedJobs)) }),
            (.failedJobs, { .uint32(UInt32(clamping: $0.failedJobs)) }),
            (.deadline, { .int64($0.deadline) }),
            (.version, { _ in .string(AgentInterface.version) }),
            (.syncWaiting, { .string($0.syncWaiting) }),
            (.outcome, { .string($0.outcome) }),
            (.running, { .array(element: "s", $0.running.map { .string($0) }) }),
            (.syncPaused, { .boolean($0.syncPaused) }),
        ]

        /// The values as the interface's properties.
        var properties: [AgentInterface.Property: DBusValue] {
            Dictionary(uniqueKeysWithValues: Self.columns.map { ($0.property, $0.value(self)) })
        }

        /// The properties whose values are not those of `old`, by name, as `PropertiesChanged`
        /// carries them. Read column by column: an event that changes nothing shown (a component
        /// stopped) is looked at once more than a dictionary of every property made twice, which
        /// cost each event 20–40 µs, on the two CPUs a quit shares with these announcements.
        func changes(since old: Values) -> [String: DBusValue] {
            var changed: [String: DBusValue] = [:]
            guard self != old else { return changed }
            for column in Self.columns {
                let value = column.value(self)
                if value != column.value(old) { changed[column.property.name] = value }
            }
            return changed
        }
    }

    /// The most lines `Running` lists: enough for a prompt or a dialog, bounded for a property.
    static let runningLines = 20

    /// How far a window's end, in Unix milliseconds, may move between two readings of the same
    /// window before it counts as a new one.
    static let deadlineJitter: Int64 = 100

    private let values = Mutex(Values())
    /// The values as last announced, and whether an announcement is queued on the connection.
    /// Taken before `values` where both are.
    private let announcement = Mutex<(announced: Values, queued: Bool)>((Values(), false))
    private let connection: BusConnection
    /// Told every new set of values, in order (under the board's lock): the service manager's
    /// status line follows the properties.
    private let observer: (@Sendable (Values) -> Void)?
    /// Set once the object is exported; nothing is announced before.
    private let exported = Atomic<Bool>(false)

    private let changesFeed: AsyncStream<Values>.Continuation
    /// The values after each change, latest first: what the tray follows (one reader).
    let changes: AsyncStream<Values>

    init(connection: BusConnection, observer: (@Sendable (Values) -> Void)? = nil) {
        self.connection = connection
        self.observer = observer
        (changes, changesFeed) = AsyncStream.makeStream(of: Values.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var current: Values { values.withLock { $0 } }

    func markExported() {
        announcement.withLock { $0.announced = values.withLock { $0 } }
        exported.store(true, ordering: .releasing)
    }

    /// Applies `change` and has the properties it changed announced.
    ///
    /// The announcement is made on the connection's queue, from the values as they are when it
    /// runs against those last announced: changes made meanwhile go out in one signal, never
    /// out of order (one queue, and each announcement reads newer values than the one before),
    /// and the caller does not wait for the queue. A quit's events came as five signals, each
    /// sent by the task that made the change (the last stop waited 0.4 ms for them); the
    /// connection's close comes after whatever was queued, so the outcome still goes out before
    /// the agent leaves the bus.
    func update(_ change: (inout Values) -> Void) {
        let changed = values.withLock { values in
            let before = values
            change(&values)
            guard values != before else { return false }
            observer?(values)
            changesFeed.yield(values)
            return true
        }
        if changed { announce() }
    }

    /// Queues an announcement unless one is queued already (it will carry this change too).
    private func announce() {
        guard exported.load(ordering: .acquiring) else { return }
        let first = announcement.withLock { state -> Bool in
            defer { state.queued = true }
            return !state.queued
        }
        guard first else { return }
        connection.emitPropertiesChangedLater(path: AgentInterface.path, interface: AgentInterface.interface) { [self] in
            announcement.withLock { state in
                state.queued = false
                let now = values.withLock { $0 }
                defer { state.announced = now }
                return now.changes(since: state.announced)
            }
        }
    }

    /// Folds a coordinator event in: the phase and the deadline. (Counts come from the work
    /// sources themselves, which also change while the coordinator is not watching them.)
    func apply(_ event: ShutdownEvent) {
        update { values in
            values.state = event.phase
            if case .outcomeDecided(let outcome) = event.kind {
                values.outcome = Self.name(of: outcome)
            }
            if let remaining = event.remaining, event.phase == .draining || event.phase == .prompting {
                let (seconds, attoseconds) = remaining.components
                let deadline = Int64(Date().timeIntervalSince1970 * 1000) + seconds * 1000 + attoseconds / 1_000_000_000_000_000
                // The same window's end, read again at a later event, comes out a millisecond
                // either way (two clocks read at two moments): kept, not announced as a change.
                // A window that really moved (pulled in, reconfigured) moves by seconds.
                if abs(deadline - values.deadline) > Self.deadlineJitter { values.deadline = deadline }
            } else {
                values.deadline = 0
            }
        }
    }

    /// Announces `outcome` now, if it has not been (the event that carries it may still be on its
    /// way to ``apply(_:)``, which then changes nothing).
    func announce(_ outcome: ShutdownOutcome) {
        update { $0.outcome = Self.name(of: outcome) }
    }

    /// The `Outcome` property's value for `outcome`.
    private static func name(of outcome: ShutdownOutcome) -> String {
        outcome.exitStatus == 3 ? "forced" : "clean"
    }

    /// Makes the D-Bus properties of the agent's interface: one for each property of the XML, in
    /// its order, with its name and type from the generated `AgentInterface`.
    /// - Throws: ``AgentStartError/interfaceMismatch(_:)`` when the board has no value for a
    ///   property the XML declares, or one of another type: found at start, not by a client
    ///   reading a wrong type.
    func properties() throws(AgentStartError) -> [DBusProperty] {
        return try AgentInterface.Property.all.map { property throws(AgentStartError) in
            guard let column = Values.columns.first(where: { $0.property == property }) else {
                throw .interfaceMismatch("the status board has no value for the property \(property)")
            }
            let value = column.value(Values())
            guard value.signature == property.signature else {
                throw .interfaceMismatch("the property \(property.name) is a \(value.signature) here, a \(property.signature) in the XML")
            }
            return DBusProperty(property.name, signature: property.signature) { column.value(self.values.withLock { $0 }) }
        }
    }
}
