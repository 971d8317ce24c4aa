import CSQLite

/// An error from SQLite, with everything needed to understand it later: the primary and extended
/// result codes, SQLite's message, and the SQL that failed.
///
/// Result codes work in `catch` patterns: `catch let error as DatabaseError where error.code == .busy`.
public struct DatabaseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A primary SQLite result code (`SQLITE_BUSY`, `SQLITE_CORRUPT`…).
    public struct Code: RawRepresentable, Sendable, Hashable {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let error = Code(rawValue: SQLITE_ERROR)
        public static let permission = Code(rawValue: SQLITE_PERM)
        public static let busy = Code(rawValue: SQLITE_BUSY)
        public static let locked = Code(rawValue: SQLITE_LOCKED)
        public static let readOnly = Code(rawValue: SQLITE_READONLY)
        public static let ioError = Code(rawValue: SQLITE_IOERR)
        public static let corrupt = Code(rawValue: SQLITE_CORRUPT)
        public static let full = Code(rawValue: SQLITE_FULL)
        public static let cantOpen = Code(rawValue: SQLITE_CANTOPEN)
        public static let constraint = Code(rawValue: SQLITE_CONSTRAINT)
        public static let notADatabase = Code(rawValue: SQLITE_NOTADB)
    }

    /// The primary result code (the low 8 bits of the extended one).
    public var code: Code
    /// The extended result code, e.g. `SQLITE_IOERR_FSYNC`.
    public var extendedCode: Int32
    /// SQLite's own message.
    public var message: String
    /// The statement that failed, when there was one.
    public var sql: String?

    public init(extendedCode: Int32, message: String, sql: String? = nil) {
        self.code = Code(rawValue: extendedCode & 0xFF)
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
    }

    /// Whether the file itself is damaged (or is not a database at all).
    public var meansCorruption: Bool {
        code == .corrupt || code == .notADatabase
    }

    public var description: String {
        var text = "SQLite error \(extendedCode) (\(String(cString: sqlite3_errstr(extendedCode)))): \(message)"
        if let sql { text += " — in: \(sql)" }
        return text
    }
}
