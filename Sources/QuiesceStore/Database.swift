import CSQLite

/// One SQLite connection with its cache of prepared statements.
///
/// Thread model: not thread-safe by itself. ``Store`` owns exactly one and touches it only inside
/// its mutex, so every statement runs on one thread at a time; SQLite's own mutexes are switched
/// off for the connection (`SQLITE_OPEN_NOMUTEX`) because of that. It is `@unchecked Sendable`
/// only so the mutex can hand it to the closure that uses it; it is internal to this module and
/// no reference to it escapes the store's lock.
final class Database: @unchecked Sendable {
    let handle: OpaquePointer
    let path: String
    private var statements: [String: Statement] = [:]
    /// Whether `job_packs` holds packs (``Store/enqueue(packs:)``): nil until first looked at.
    var packsPending: Bool?

    /// Opens (and with `create`, creates) the database at `path`; `readOnly` for a connection
    /// that only looks (the store's background check).
    init(path: String, create: Bool = false, readOnly: Bool = false) throws(DatabaseError) {
        var handle: OpaquePointer?
        var flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX
        if create { flags |= SQLITE_OPEN_CREATE }
        let result = sqlite3_open_v2(path, &handle, flags, nil)
        guard result == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(handle)
            throw DatabaseError(extendedCode: result, message: message)
        }
        sqlite3_extended_result_codes(handle, 1)
        self.handle = handle
        self.path = path
        var ignored: Int32 = 0
        _ = quiesce_sqlite3_db_config_int(handle, QUIESCE_SQLITE_DBCONFIG_DEFENSIVE, 1, &ignored)
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// The error for a failed call, with SQLite's message and the SQL.
    func error(_ result: Int32, sql: String?) -> DatabaseError {
        let extended = sqlite3_extended_errcode(handle)
        let code = extended & 0xFF == result & 0xFF ? extended : result
        return DatabaseError(extendedCode: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// The cached prepared statement for `sql`, prepared on first use.
    func statement(_ sql: String) throws(DatabaseError) -> Statement {
        if let cached = statements[sql] { return cached }
        let statement = try Statement(database: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs one or more statements that take no parameters (schema, pragmas).
    func execute(_ sql: String) throws(DatabaseError) {
        let result = sqlite3_exec(handle, sql, nil, nil, nil)
        guard result == SQLITE_OK else { throw error(result, sql: sql) }
    }

    /// Runs `body` in a write transaction, taken at once (`BEGIN IMMEDIATE`) so it never fails
    /// half-way for a lock; commits when `body` returns, rolls back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try statement("BEGIN IMMEDIATE").run()
        do {
            let value = try body()
            try statement("COMMIT").run()
            return value
        } catch {
            if sqlite3_get_autocommit(handle) == 0 {
                _ = try? statement("ROLLBACK").run()
            }
            throw error
        }
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// A pragma's value as text ("wal", "ok", "2").
    func pragma(_ name: String) throws(DatabaseError) -> String? {
        try statement("PRAGMA \(name)").rows { row in row.optionalText(0) }.first ?? nil
    }
}
