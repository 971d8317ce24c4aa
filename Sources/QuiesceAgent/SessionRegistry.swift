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
    private struct Tracked {
        var tokens: [String: WorkCounter.Token] = [:]
        /// Open bound sessions (their ids) by their client's connection: a departure ends them
        /// at once, and departures of anyone else cost nothing.
        var boundByOwner: [String: Set<String>] = [:]
        /// Departed clients whose sessions are not yet closed in the database, and whether that
        /// write is on its way.
        var departed: Set<String> = []
        var flushing = false
    }
    private let tracked = Mutex(Tracked())

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
        untrack(session)
        logger.info("session \(id) closed")
    }

    /// A client left the bus: its bound sessions end with it, at once for the drain (the work
    /// counter), then in the database. Departures that arrive together (a desktop session ending,
    /// a tool with many connections killed) are written in one transaction. Should the agent die
    /// before that write, the next start closes them as abandoned: nothing waits on it.
    public func clientVanished(_ connection: String) {
        let (tokens, startFlush): ([WorkCounter.Token], Bool) = tracked.withLock { state in
            guard let ids = state.boundByOwner.removeValue(forKey: connection) else { return ([], false) }
            let tokens = ids.compactMap { state.tokens.removeValue(forKey: $0) }
            state.departed.insert(connection)
            guard !state.flushing else { return (tokens, false) }
            state.flushing = true
            return (tokens, true)
        }
        work.end(tokens)
        guard startFlush else { return }
        Task {
            // Let the departures the bus has already sent join this write.
            await Task.yield()
            flushDepartures()
        }
    }

    private func flushDepartures() {
        while true {
            let batch: [String] = tracked.withLock { state in
                let batch = Array(state.departed)
                state.departed = []
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let closed = try store.closeSessions(boundToAny: batch)
                for session in closed {
                    logger.debug("session \(session.id) closed: its client \(session.owner.connection ?? "?") left the bus")
                }
                if closed.count == 1, let session = closed.first {
                    logger.info("session \(session.id) (\(session.label)) closed: its client \(session.owner.connection ?? "?") left the bus")
                } else if !closed.isEmpty {
                    logger.info("\(closed.count) sessions closed: their \(batch.count) clients left the bus")
                }
            } catch {
                logger.error("could not close the sessions of \(batch.count) client(s) that left the bus: \(error); they close as abandoned at the next start")
            }
        }
    }

    public var count: Int { work.count }

    private func track(_ session: SessionRecord) {
        let token = work.begin(session.label)
        tracked.withLock { state in
            state.tokens[session.id] = token
            if session.bound, let owner = session.owner.connection { state.boundByOwner[owner, default: []].insert(session.id) }
        }
    }

    /// Ends a session's work and forgets its owner (CloseSession).
    private func untrack(_ session: SessionRecord) {
        let token: WorkCounter.Token? = tracked.withLock { state in
            if let owner = session.owner.connection, var ids = state.boundByOwner[owner] {
                ids.remove(session.id)
                state.boundByOwner[owner] = ids.isEmpty ? nil : ids
            }
            return state.tokens.removeValue(forKey: session.id)
        }
        if let token { work.end(token) }
    }
}
