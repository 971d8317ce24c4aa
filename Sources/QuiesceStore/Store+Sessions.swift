/// Sessions: open, close, list, count, and the clean-up after a crash.
extension Store {
    private static let sessionColumns =
        "id, label, bound, owner_uid, owner_pid, owner_connection, instance, opened_at, closed_at, close_reason"

    /// Records a new open session and returns it. Durable when this returns.
    public func openSession(label: String, bound: Bool, owner: SessionOwner) throws(StoreError) -> SessionRecord {
        guard !label.isEmpty, label.utf8.count <= 1024 else {
            throw .invalidArgument("a session label must be 1 to 1024 bytes long")
        }
        let record = SessionRecord(
            id: "s" + Store.randomHex(bytes: 8), label: label, bound: bound, owner: owner, instance: instance,
            openedAt: now())
        try write { database in
            try database.statement(
                "INSERT INTO sessions (id, label, bound, owner_uid, owner_pid, owner_connection, instance, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ).run([
                .text(record.id), .text(label), .integer(bound ? 1 : 0), .integer(Int64(owner.uid)),
                .integer(Int64(owner.pid)), owner.connection.map { .text($0) } ?? .null, .text(instance),
                .integer(record.openedAt),
            ])
        }
        return record
    }

    /// Closes an open session.
    /// - Throws: ``StoreError/notFound(what:)`` when no open session has that id.
    @discardableResult
    public func closeSession(id: String, reason: SessionCloseReason = .closed) throws(StoreError) -> SessionRecord {
        let closed = try write { database -> [SessionRecord] in
            try database.statement(
                "UPDATE sessions SET closed_at = ?, close_reason = ? WHERE id = ? AND closed_at IS NULL RETURNING \(Self.sessionColumns)"
            ).rows([.integer(now()), .text(reason.rawValue), .text(id)], Self.session)
        }
        guard let record = closed.first else { throw .notFound(what: "open session \(id)") }
        return record
    }

    /// Closes every open bound session opened by `connection` (the client left the bus).
    public func closeSessions(boundTo connection: String) throws(StoreError) -> [SessionRecord] {
        try closeSessions(boundToAny: [connection])
    }

    /// Closes the open bound sessions of all these clients, in one transaction: when many leave
    /// at once (a session ends), one durable write instead of one each.
    public func closeSessions(boundToAny connections: [String]) throws(StoreError) -> [SessionRecord] {
        try write { database in
            // One transaction in fact, not only in name: N autocommits were N fsyncs, and a crash
            // between them closed some of the departed clients' sessions and not others.
            try database.transaction {
                let statement = try database.statement(
                    "UPDATE sessions SET closed_at = ?, close_reason = 'client-vanished' WHERE closed_at IS NULL AND bound = 1 AND owner_connection = ? RETURNING \(Self.sessionColumns)")
                var closed: [SessionRecord] = []
                for connection in connections {
                    closed += try statement.rows([.integer(now()), .text(connection)], Self.session)
                }
                return closed
            }
        }
    }

    /// At start: bound sessions of earlier runs lost their clients with them, so they close as
    /// abandoned. Unbound sessions stay open: their owner may still come back to close them.
    public func closeAbandonedSessions() throws(StoreError) -> [SessionRecord] {
        try write { database in
            try database.statement(
                "UPDATE sessions SET closed_at = ?, close_reason = 'abandoned' WHERE closed_at IS NULL AND bound = 1 AND instance != ? RETURNING \(Self.sessionColumns)"
            ).rows([.integer(now()), .text(instance)], Self.session)
        }
    }

    /// Open sessions in the order they were opened, at most `limit`; with `after`, those opened
    /// after that session (a page's cursor: the last id of the page before). Sessions are never
    /// deleted, so a cursor stays valid after its session closes.
    /// - Throws: ``StoreError/notFound(what:)`` when `after` names no session.
    public func openSessions(limit: Int = .max, after: String? = nil) throws(StoreError) -> [SessionRecord] {
        try write { database in
            var start: Int64 = 0
            if let after {
                guard let row = try database.statement("SELECT rowid FROM sessions WHERE id = ?").scalar([.text(after)]) else {
                    throw StoreError.notFound(what: "session \(after.prefix(64))")
                }
                start = row
            }
            // By rowid, the order of opening: a page of 100 of 10,000 open sessions reads 100 rows, no sort.
            return try database.statement(
                "SELECT \(Self.sessionColumns) FROM sessions WHERE closed_at IS NULL AND rowid > ? ORDER BY rowid LIMIT ?"
            ).rows([.integer(start), .integer(Int64(min(limit, Int(Int64.max))))], Self.session)
        }
    }

    /// How many sessions are open: one half of the idle predicate.
    public func activeSessionCount() throws(StoreError) -> Int {
        try write { database in
            Int(try database.statement("SELECT count(*) FROM sessions WHERE closed_at IS NULL").scalar() ?? 0)
        }
    }

    private static func session(_ row: Row) -> SessionRecord {
        SessionRecord(
            id: row.text(0), label: row.text(1), bound: row.integer(2) != 0,
            owner: SessionOwner(uid: UInt32(row.integer(3)), pid: UInt32(row.integer(4)), connection: row.optionalText(5)),
            instance: row.text(6), openedAt: row.integer(7), closedAt: row.optionalInteger(8),
            closeReason: row.optionalText(9).flatMap(SessionCloseReason.init(rawValue:)))
    }
}
