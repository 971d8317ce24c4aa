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

        /// The values as the interface's properties. Keyed by the generated constants, so a name
        /// cannot be mistyped; ``StatusBoard/properties()`` checks at start that every property of
        /// the XML is here with its type.
        var properties: [AgentInterface.Property: DBusValue] {
            [
                .state: .string(state.rawValue), .activeSessions: .uint32(UInt32(clamping: activeSessions)),
                .inFlightJobs: .uint32(UInt32(clamping: inFlightJobs)), .queuedJobs: .uint32(UInt32(clamping: queuedJobs)),
                .failedJobs: .uint32(UInt32(clamping: failedJobs)),
                .deadline: .int64(deadline), .version: .string(AgentInterface.version), .syncWaiting: .string(syncWaiting),
                .outcome: .string(outcome), .running: .array(element: "s", running.map { .string($0) }),
                .syncPaused: .boolean(syncPaused),
            ]
        }
    }

    /// The most lines `Running` lists: enough for a prompt or a dialog, bounded for a property.
    static let runningLines = 20

    private let values = Mutex(Values())
    private let announcing = Mutex(())
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
        exported.store(true, ordering: .releasing)
    }

    /// Applies `change` and announces the properties it changed.
    ///
    /// Announcements go out in the order the changes were made: `announcing` is held from the
    /// change to its signal, so a later change cannot be announced before an earlier one (which
    /// would leave clients with a stale value). The values' own lock is not held while sending:
    /// the property getters take it on the bus queue, which sending may wait for.
    func update(_ change: (inout Values) -> Void) {
        announcing.withLock { _ in
            let (before, after) = values.withLock { values in
                let before = values
                change(&values)
                if values != before {
                    observer?(values)
                    changesFeed.yield(values)
                }
                return (before, values)
            }
            announce(from: before, to: after)
        }
    }

    private func announce(from before: Values, to after: Values) {
        guard exported.load(ordering: .acquiring) else { return }
        let old = before.properties
        let changed = after.properties.filter { old[$0.key] != $0.value }
        guard !changed.isEmpty else { return }
        try? connection.emitPropertiesChanged(
            path: AgentInterface.path, interface: AgentInterface.interface,
            changed: Dictionary(uniqueKeysWithValues: changed.map { ($0.key.name, $0.value) }))
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
                values.deadline = Int64(Date().timeIntervalSince1970 * 1000) + seconds * 1000 + attoseconds / 1_000_000_000_000_000
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
        let initial = Values().properties
        return try AgentInterface.Property.all.map { property throws(AgentStartError) in
            guard let value = initial[property] else { throw .interfaceMismatch("the status board has no value for the property \(property)") }
            guard value.signature == property.signature else {
                throw .interfaceMismatch("the property \(property.name) is a \(value.signature) here, a \(property.signature) in the XML")
            }
            return DBusProperty(property.name, signature: property.signature) { self.values.withLock { $0.properties[property] ?? value } }
        }
    }
}
