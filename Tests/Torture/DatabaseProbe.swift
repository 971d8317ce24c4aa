import CSQLite

/// The agent's database read the way a stranger would: straight through SQLite, not through
/// `QuiesceStore`, so a bug in the store cannot hide itself from the check. Only opened while no
/// agent runs (after a kill, after an exit).
public final class DatabaseProbe {
    private var handle: OpaquePointer?

    /// One row of the sync queue.
    public struct Job: Sendable, Hashable {
        public let id: UInt64
        public let source: String
        public let destination: String
        public let state: String
        /// The name it landed under when not the source's (a conflict name).
        public var landedName: String? = nil
        /// Where the copy lands, relative to the NAS root.
        public var target: String {
            let name = landedName ?? source.split(separator: "/").last.map(String.init) ?? source
            return destination.isEmpty ? name : "\(destination)/\(name)"
        }
    }

    /// One row of the sessions table.
    public struct Session: Sendable, Hashable {
        public let id: String
        public let bound: Bool
        public let closeReason: String?
        public var isOpen: Bool { closeReason == nil }
    }

    public init(path: String) throws(ProbeError) {
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw ProbeError(message: "cannot open \(path): \(message)")
        }
        sqlite3_busy_timeout(handle, 5_000)
    }

    deinit {
        sqlite3_close(handle)
    }

    /// `PRAGMA integrity_check`: "ok", or what SQLite found.
    public func integrity() throws(ProbeError) -> String {
        try rows("PRAGMA integrity_check") { statement in text(statement, 0) ?? "" }.joined(separator: "; ")
    }

    /// Every job: the rows of `jobs`, and the jobs still packed in `job_packs` (a folder's files,
    /// their names side by side, NUL-separated; ids from `first_id` on), as queued.
    public func jobs() throws(ProbeError) -> [Job] {
        let rows = try rows("SELECT id, source, destination, state, landed_name FROM jobs ORDER BY id") { statement in
            Job(
                id: UInt64(sqlite3_column_int64(statement, 0)), source: text(statement, 1) ?? "", destination: text(statement, 2) ?? "",
                state: text(statement, 3) ?? "", landedName: text(statement, 4))
        }
        let packed = try self.rows("SELECT first_id, directory, destination, names FROM job_packs") { statement -> [Job] in
            let first = UInt64(sqlite3_column_int64(statement, 0))
            let directory = text(statement, 1) ?? ""
            let destination = text(statement, 2) ?? ""
            let bytes = sqlite3_column_blob(statement, 3).map {
                Array(UnsafeRawBufferPointer(start: $0, count: Int(sqlite3_column_bytes(statement, 3))))
            } ?? []
            return bytes.split(separator: 0, omittingEmptySubsequences: false).enumerated().map { offset, name in
                Job(id: first + UInt64(offset), source: directory + "/" + String(decoding: name, as: UTF8.self), destination: destination, state: "queued")
            }
        }
        return (rows + packed.joined()).sorted { $0.id < $1.id }
    }

    public func sessions() throws(ProbeError) -> [Session] {
        try rows("SELECT id, bound, close_reason, closed_at FROM sessions") { statement in
            let closed = sqlite3_column_type(statement, 3) != SQLITE_NULL
            return Session(
                id: text(statement, 0) ?? "", bound: sqlite3_column_int(statement, 1) != 0,
                closeReason: closed ? (text(statement, 2) ?? "closed") : nil)
        }
    }

    private func rows<Row>(_ sql: String, _ read: (OpaquePointer) -> Row) throws(ProbeError) -> [Row] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw ProbeError(message: "\(sql): \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        var result: [Row] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { return result }
            guard step == SQLITE_ROW else { throw ProbeError(message: "\(sql): \(String(cString: sqlite3_errmsg(handle)))") }
            result.append(read(statement))
        }
    }

    private func text(_ statement: OpaquePointer, _ column: Int32) -> String? {
        sqlite3_column_text(statement, column).map { String(cString: $0) }
    }
}

/// The probe could not read the database.
public struct ProbeError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
