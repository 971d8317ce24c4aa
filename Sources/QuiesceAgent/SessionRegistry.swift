public import Logging
public import QuiesceCore
public import QuiesceStore
import Synchronization

/// Open sessions: kept in the store (so unbound ones survive a restart) and counted by a
/// `WorkCounter` (so the coordinator proceeds the moment the last one closes, without polling).
///
/// A bound session belongs to its client's bus connection: when the client leaves the bus (exits,
/// crashes, is killed), ``clientVanished(_:)`` closes its sessions. Admission is checked and the
/// session counted under the admission gate's lock, so no session slips in after a drain begins.
public final class SessionRegistry: Sendable {
    /// What the coordinator watches: one unit per open session.
    public let work = WorkCounter(name: "sessions", blocksSleep: false)
    private let store: Store
    private let admission: Gate
    private let logger: Logger
    private let tokens = Mutex<[String: WorkCounter.Token]>([:])

    public init(store: Store, admission: Gate, logger: Logger) {
        self.store = store
        self.admission = admission
        self.logger = logger
    }

    /// At start: closes the bound sessions a crashed run left behind, and counts the unbound ones
    /// that are still open.
    public func recover() throws(StoreError) {
        let abandoned = try store.closeAbandonedSessions()
        if !abandoned.isEmpty {
            logger.notice("closed \(abandoned.count) bound session(s) of an earlier run that did not stop cleanly")
        }
        for session in try store.openSessions() {
            track(session)
        }
    }

    /// Opens a session if the agent still admits work.
    /// - Throws: `GateClosed` once a quit or a system shutdown has begun; `StoreError`.
    public func open(label: String, bound: Bool, owner: SessionOwner) throws -> SessionRecord {
        try admission.admit {
            let session = try store.openSession(label: label, bound: bound, owner: owner)
            track(session)
            logger.info("session \(session.id) opened: \(label)\(bound ? " (bound to \(owner.connection ?? "?"))" : "")")
            return session
        }
    }

    /// Closes a session by id.
    public func close(id: String) throws(StoreError) {
        let session = try store.closeSession(id: id)
        untrack(session.id)
        logger.info("session \(id) closed")
    }

    /// A client left the bus: its bound sessions end with it.
    public func clientVanished(_ connection: String) {
        do {
            let closed = try store.closeSessions(boundTo: connection)
            for session in closed {
                untrack(session.id)
                logger.info("session \(session.id) closed: its client \(connection) left the bus")
            }
        } catch {
            logger.error("could not close the sessions of \(connection), which left the bus: \(error)")
        }
    }

    /// Whether any open session is bound to `connection` (so its departure matters).
    public func hasSessions(boundTo connection: String) -> Bool {
        (try? store.openSessions().contains { $0.bound && $0.owner.connection == connection }) ?? false
    }

    public var count: Int { work.count }

    private func track(_ session: SessionRecord) {
        let token = work.begin(session.label)
        tokens.withLock { $0[session.id] = token }
    }

    private func untrack(_ id: String) {
        if let token = tokens.withLock({ $0.removeValue(forKey: id) }) {
            work.end(token)
        }
    }
}
