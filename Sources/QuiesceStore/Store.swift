import CSQLite
import Glibc
import Synchronization

/// The agent's durable state: sessions and the sync queue, in one SQLite file.
///
/// Thread model: one connection, owned here and used only inside a mutex, so every call is
/// serialized and may come from any thread (a D-Bus callback, a sync worker). Calls are short;
/// the longest is a durable commit (an fsync with `synchronous=FULL`). Every method is
/// synchronous on purpose: `OpenSession` must be admitted and recorded in one step under the
/// coordinator's admission gate.
public final class Store: Sendable {
    /// The database file.
    public let path: String
    /// This run of the agent. Leases and bound sessions carry it, so the next run can tell what a
    /// crashed run left behind.
    public let instance: String
    /// Wall-clock time in Unix milliseconds; injected so tests control backoff and pruning.
    let now: @Sendable () -> Int64
    /// Whether the whole file was checked (`integrity_check`) before this store was handed out:
    /// after an unclean stop, yes; after a clean one, the check is left to
    /// ``verifyInBackground(onDamage:)``, so a start does not read a million jobs.
    public let checkedAtOpen: Bool
    let connection: Mutex<Database?>
    let backgroundCheck = Mutex(BackgroundCheck())
    private let lock: LockFile

    /// Opens the database at `path`, creating it and its directory if needed.
    ///
    /// Creates the directory 0700 and the file 0600; takes an exclusive lock; sets WAL,
    /// `synchronous=FULL` and a busy timeout; migrates the schema forward. Runs `integrity_check`
    /// when the last run did not close the database (its write-ahead log is still there: SQLite
    /// removes it when the last connection closes); after a clean close the check is left to
    /// ``verifyInBackground(onDamage:)``, because it reads the whole file (2.9 s for 1,000,000
    /// jobs) and a start must not wait for it. `quick_check` would not do either: 1.8–2.1 s.
    /// - Throws: ``StoreError``: another process holds the file; the file is damaged (it is moved
    ///   aside first, never recreated silently); the schema is newer than this build; the
    ///   directory cannot be used.
    public init(
        path: String,
        instance: String = Store.makeInstanceID(),
        now: @escaping @Sendable () -> Int64 = Store.wallClockMilliseconds
    ) throws(StoreError) {
        let directory = Self.directory(of: path)
        try Self.makePrivateDirectory(directory)
        let lock = try LockFile(path: path + ".lock")
        // Looked at under the lock, before SQLite opens (and so creates) the log.
        let closedCleanly = access(path + "-wal", F_OK) != 0
        try Self.makePrivateFile(path)
        let database: Database
        do {
            database = try Self.openChecked(path, fullCheck: !closedCleanly)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.meansCorruption {
            throw Self.moveAside(path, detail: error.message)
        } catch let error as DatabaseError {
            throw StoreError(error, path: path)
        } catch {
            throw .invalidArgument("\(error)")
        }
        self.path = path
        self.instance = instance
        self.now = now
        self.lock = lock
        self.connection = Mutex(database)
        self.checkedAtOpen = !closedCleanly
    }

    /// The store's clock: Unix milliseconds.
    public var nowMilliseconds: Int64 { now() }

    /// Closes the connection; later calls fail with ``StoreError/closed``. A background check still
    /// running is stopped first; the lock file is let go last, so the next agent may open the file.
    public func close() {
        stopBackgroundCheck(forGood: true)
        connection.withLock { $0 = nil }
        lock.release()
    }

    /// Moves the WAL's contents into the main file, so a shutdown leaves one self-contained file.
    /// A background check holds a snapshot the checkpoint would wait for: it is interrupted and
    /// started again afterwards.
    ///
    /// An empty log has nothing to move: then nothing is done. SQLite would truncate the empty
    /// file all the same, and a truncate, even to the size a file has, updates its times: a
    /// journalled write that waits for the file system's journal, which under write-back from
    /// other programs was tens of milliseconds — and an idle agent does this at every shutdown
    /// and sleep, on the path logind waits for.
    public func checkpoint() throws(StoreError) {
        guard logHasFrames else { return }
        let interrupted = stopBackgroundCheck(forGood: false)
        defer { if interrupted { restartBackgroundCheck() } }
        try write { database in try database.execute("PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    /// Whether the write-ahead log may hold anything: false only for an open store whose log is
    /// missing or empty. Looked at under the store's mutex, which every write of this process takes.
    private var logHasFrames: Bool {
        connection.withLock { database in
            guard database != nil else { return true }  // the checkpoint then says it is closed
            var status = stat()
            guard stat(path + "-wal", &status) == 0 else { return errno != ENOENT }
            return status.st_size > 0
        }
    }

    /// Runs `body` on the connection, under the store's mutex.
    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try connection.withLock { connection throws -> T in
                guard let database = connection else { throw StoreError.closed }
                return try body(database)
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.meansCorruption {
            // Never served on: the check in the background stops, the file goes aside.
            stopBackgroundCheck(forGood: true)
            throw reportDamage(error.message)
        } catch let error as DatabaseError {
            throw StoreError(error, path: path)
        } catch {
            throw .invalidArgument("\(error)")
        }
    }

    // MARK: Opening

    private static func openChecked(_ path: String, fullCheck: Bool) throws -> Database {
        let database = try Database(path: path, create: false)
        try database.execute("PRAGMA busy_timeout = 5000")
        // Before anything writes: a file from a newer agent must be left exactly as it is.
        let version = Int(try database.statement("PRAGMA user_version").scalar() ?? 0)
        guard version <= Migrations.latest else {
            throw StoreError.newerSchema(path: path, found: version, supported: Migrations.latest)
        }
        guard try database.pragma("journal_mode = WAL") == "wal" else {
            throw DatabaseError(extendedCode: SQLITE_ERROR, message: "cannot switch to WAL", sql: "PRAGMA journal_mode = WAL")
        }
        try database.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON")
        if fullCheck {
            let problems = try integrityProblems(database)
            guard problems.isEmpty else {
                throw DatabaseError(extendedCode: SQLITE_CORRUPT, message: problems, sql: "PRAGMA integrity_check")
            }
        }
        try Migrations.migrate(database)
        return database
    }

    /// Renames the damaged file (and its WAL and shared-memory files) to `<path>.corrupt-<time>`.
    static func moveAside(_ path: String, detail: String) -> StoreError {
        let stamp = utcStamp()
        let target = "\(path).corrupt-\(stamp)"
        guard rename(path, target) == 0 else {
            return .directoryUnusable(
                path: path, reason: "it is damaged (\(detail)) and could not be moved aside: \(String(cString: strerror(errno)))")
        }
        for suffix in ["-wal", "-shm"] {
            _ = rename(path + suffix, target + suffix)
        }
        return .corrupt(path: path, movedTo: target, detail: detail)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates `directory` (and missing parents) 0700; tightens the last one to 0700 if it
    /// exists with wider permissions.
    private static func makePrivateDirectory(_ directory: String) throws(StoreError) {
        var partial = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            partial += "/\(component)"
            if mkdir(partial, 0o700) != 0 && errno != EEXIST {
                throw .directoryUnusable(path: partial, reason: String(cString: strerror(errno)))
            }
        }
        var info = stat()
        guard stat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw .directoryUnusable(path: directory, reason: "it is not a directory")
        }
        if info.st_mode & 0o077 != 0 && chmod(directory, 0o700) != 0 {
            throw .directoryUnusable(path: directory, reason: "cannot make it private: \(String(cString: strerror(errno)))")
        }
    }

    /// Creates the database file 0600 before SQLite does (SQLite would follow the umask), or
    /// tightens an existing one. SQLite gives its WAL and shared-memory files the same mode.
    private static func makePrivateFile(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw .directoryUnusable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { Glibc.close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & 0o077 != 0 {
            _ = fchmod(fd, 0o600)
        }
    }

    // MARK: Clocks and identifiers

    /// Unix time in milliseconds, from the real-time clock.
    public static let wallClockMilliseconds: @Sendable () -> Int64 = {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// A random identifier for one run of the agent.
    public static func makeInstanceID() -> String {
        randomHex(bytes: 8)
    }

    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }

    private static func utcStamp() -> String {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }
}
