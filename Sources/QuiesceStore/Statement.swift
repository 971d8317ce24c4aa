import CSQLite

/// A prepared statement, owned by the ``Database`` that prepared it and used only under its
/// owner's lock.
///
/// Not `Sendable`: it is a raw handle into its connection.
final class Statement {
    let handle: OpaquePointer
    let sql: String
    private unowned let database: Database

    init(database: Database, sql: String) throws(DatabaseError) {
        var handle: OpaquePointer?
        let result = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard result == SQLITE_OK, let handle else {
            throw database.error(result, sql: sql)
        }
        self.handle = handle
        self.sql = sql
        self.database = database
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// A value that can be bound to a parameter or read from a column.
    enum Value: Equatable {
        case null
        case integer(Int64)
        case text(String)
        case blob([UInt8])
        case real(Double)
    }

    /// Binds text to parameter `index` (1-based) without building a ``Value``: the string's own
    /// UTF-8 where it has it, SQLite copying it (transient). An empty string still needs a
    /// pointer: a null one binds NULL.
    func bind(text: String, at index: Int32) throws(DatabaseError) {
        var text = text
        let result = text.withUTF8 { buffer in
            guard let base = buffer.baseAddress, !buffer.isEmpty else {
                return quiesce_sqlite3_bind_text_transient(handle, index, "", 0)
            }
            return base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                quiesce_sqlite3_bind_text_transient(handle, index, $0, Int32(buffer.count))
            }
        }
        guard result == SQLITE_OK else { throw database.error(result, sql: sql) }
    }

    func bind(integer: Int64, at index: Int32) throws(DatabaseError) {
        let result = sqlite3_bind_int64(handle, index, integer)
        guard result == SQLITE_OK else { throw database.error(result, sql: sql) }
    }

    /// Steps a statement that returns no rows, and resets it: the hot path of a batch insert,
    /// with the parameters bound one by one beforehand (no array of values per row).
    func runBound() throws(DatabaseError) {
        defer { sqlite3_reset(handle) }
        _ = try step()
    }

    /// Resets the statement and binds `values` to its parameters, in order.
    func bind(_ values: [Value]) throws(DatabaseError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32
            switch value {
            case .null:
                result = sqlite3_bind_null(handle, index)
            case .integer(let number):
                result = sqlite3_bind_int64(handle, index, number)
            case .real(let number):
                result = sqlite3_bind_double(handle, index, number)
            case .text(let text):
                try bind(text: text, at: index)
                continue
            case .blob(let bytes):
                result = bytes.withUnsafeBytes { raw in
                    quiesce_sqlite3_bind_blob_transient(handle, index, raw.baseAddress, Int32(raw.count))
                }
            }
            guard result == SQLITE_OK else { throw database.error(result, sql: sql) }
        }
    }

    /// Steps once. Returns `true` when a row is available.
    func step() throws(DatabaseError) -> Bool {
        let result = sqlite3_step(handle)
        switch result {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(result, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs the statement to completion, ignoring rows.
    func run(_ values: [Value] = []) throws(DatabaseError) {
        try bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Runs the statement and maps every row.
    func rows<T>(_ values: [Value] = [], _ map: (Row) throws(DatabaseError) -> T) throws(DatabaseError) -> [T] {
        try bind(values)
        defer { sqlite3_reset(handle) }
        var result: [T] = []
        while try step() {
            result.append(try map(Row(statement: self)))
        }
        return result
    }

    /// The first column of the first row, as an integer.
    func scalar(_ values: [Value] = []) throws(DatabaseError) -> Int64? {
        try bind(values)
        defer { sqlite3_reset(handle) }
        guard try step() else { return nil }
        return Row(statement: self).optionalInteger(0)
    }
}

/// The current row of a stepping statement; valid only until the next step.
struct Row {
    let statement: Statement

    func integer(_ column: Int32) -> Int64 {
        sqlite3_column_int64(statement.handle, column)
    }

    func optionalInteger(_ column: Int32) -> Int64? {
        sqlite3_column_type(statement.handle, column) == SQLITE_NULL ? nil : integer(column)
    }

    func text(_ column: Int32) -> String {
        optionalText(column) ?? ""
    }

    func blob(_ column: Int32) -> [UInt8] {
        guard let pointer = sqlite3_column_blob(statement.handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(statement.handle, column))
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    func optionalText(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement.handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement.handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
}
