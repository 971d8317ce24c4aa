import CSQLite
import Glibc
import Synchronization

/// The whole-file check (`integrity_check`) after a clean start, off the start path.
///
/// A start after a clean close does not read the whole file (see ``Store/init(path:instance:now:)``):
/// with a million jobs that took 2.9 s. The check still runs, on a thread of its own at idle
/// priority (`SCHED_IDLE`, which Linux also gives the idle I/O class), on a read-only connection
/// of its own, so it takes no lock the agent needs and yields the CPU and the disk to anything
/// else. When it finds damage — or any call meets a damaged page first — the store closes its
/// connection (every later call fails ``StoreError/closed``), moves the file aside as a failed
/// open would, and says so to the handler: the agent then stops, like a start that found the file
/// damaged.
extension Store {
    /// Checks the whole file in the background unless it was checked at open; `onDamage` is called
    /// (on the checking thread) at most once, with ``StoreError/corrupt(path:movedTo:detail:)``.
    /// A checkpoint interrupts the check and starts it again; ``close()`` ends it.
    public func verifyInBackground(onDamage: @escaping @Sendable (StoreError) -> Void) {
        guard !checkedAtOpen else { return }
        let start = backgroundCheck.withLock { check -> Bool in
            guard check.onDamage == nil, !check.ended else { return false }
            check.onDamage = onDamage
            return true
        }
        if start { restartBackgroundCheck() }
    }

    /// Whether a background check is still to finish (for tests and the agent's log).
    public var backgroundCheckPending: Bool {
        backgroundCheck.withLock { $0.onDamage != nil && !$0.ended }
    }

    /// Whether a checking thread holds its connection open right now (for tests).
    var backgroundCheckReading: Bool {
        backgroundCheck.withLock { $0.reader != nil }
    }

    /// Interrupts a running check and waits until its connection is closed: the agent's own
    /// connection must be the last one at a close, or SQLite leaves the log behind and the next
    /// start takes the stop for a crash. `forGood` ends it; otherwise
    /// ``restartBackgroundCheck()`` may run it again. Returns whether one was running.
    @discardableResult
    func stopBackgroundCheck(forGood: Bool) -> Bool {
        let running = backgroundCheck.withLock { check in
            let running = check.running
            check.generation &+= 1
            check.running = false
            if let reader = check.reader { sqlite3_interrupt(reader.pointer) }
            if forGood { check.ended = true }
            return running
        }
        // An interrupted integrity_check returns within milliseconds; 2 s bounds a thread that
        // is still opening its connection on a slow disk.
        for _ in 0..<2000 where backgroundCheck.withLock({ $0.threads > 0 }) {
            usleep(1000)
        }
        return running
    }

    /// Starts the check on a new thread, unless it has finished or was ended.
    func restartBackgroundCheck() {
        let generation: UInt64? = backgroundCheck.withLock { check in
            guard check.onDamage != nil, !check.ended, !check.running else { return nil }
            check.running = true
            check.threads += 1
            return check.generation
        }
        guard let generation else { return }
        let job = Unmanaged.passRetained(CheckThread(store: self, generation: generation))
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { context in
            let job = Unmanaged<CheckThread>.fromOpaque(context!).takeRetainedValue()
            job.store.runBackgroundCheck(generation: job.generation)
            return nil
        }, job.toOpaque())
        guard started == 0 else {
            // No thread: the file stays unchecked this run; the next start after an unclean stop checks it.
            job.release()
            backgroundCheck.withLock {
                $0.running = false
                $0.threads -= 1
            }
            return
        }
        pthread_detach(thread)
    }

    private func runBackgroundCheck(generation: UInt64) {
        // Counted down after its connection is closed, whatever the way out.
        defer { backgroundCheck.withLock { $0.threads -= 1 } }
        var parameters = sched_param()
        _ = sched_setscheduler(0, Self.idleScheduling, &parameters)
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let handle else {
            sqlite3_close_v2(handle)
            backgroundCheck.withLock { if $0.generation == generation { $0.running = false } }
            return
        }
        let current = backgroundCheck.withLock { check -> Bool in
            guard check.generation == generation else { return false }
            check.reader = ReaderHandle(pointer: handle)
            return true
        }
        guard current else {
            sqlite3_close_v2(handle)
            return
        }
        let outcome: Result<String, DatabaseError>
        do { outcome = .success(try Self.integrityProblems(handle)) } catch { outcome = .failure(error) }
        let damaged = backgroundCheck.withLock { check -> Bool in
            check.reader = nil
            sqlite3_close_v2(handle)
            guard check.generation == generation else { return false }
            check.running = false
            switch outcome {
            case .success(let problems):
                check.ended = true
                return !problems.isEmpty
            case .failure(let error):
                // Interrupted, or the file busy, is not a verdict on the file.
                if error.meansCorruption { check.ended = true }
                return error.meansCorruption
            }
        }
        guard damaged else { return }
        switch outcome {
        case .success(let problems): _ = reportDamage(problems)
        case .failure(let error): _ = reportDamage(error.message)
        }
    }

    /// The file is damaged: closes the connection (later calls fail ``StoreError/closed``), moves
    /// the file aside and tells the handler, once. Returns what to throw.
    func reportDamage(_ detail: String) -> StoreError {
        let first = connection.withLock { database -> Bool in
            defer { database = nil }
            return database != nil
        }
        guard first else { return .closed }
        let error = Self.moveAside(path, detail: detail)
        let handler = backgroundCheck.withLock { check in
            defer { check.onDamage = nil }
            check.ended = true
            return check.onDamage
        }
        handler?(error)
        return error
    }

    /// What `integrity_check` found: empty when the file is sound, else its first three findings.
    static func integrityProblems(_ handle: OpaquePointer) throws(DatabaseError) -> String {
        let sql = "PRAGMA integrity_check(3)"
        var statement: OpaquePointer?
        let prepared = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard prepared == SQLITE_OK, let statement else {
            throw DatabaseError(extendedCode: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
        defer { sqlite3_finalize(statement) }
        var findings: [String] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else {
                throw DatabaseError(extendedCode: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
            }
            findings.append(sqlite3_column_text(statement, 0).map { String(cString: $0) } ?? "")
        }
        return findings == ["ok"] ? "" : findings.joined(separator: "; ")
    }

    /// Linux's `SCHED_IDLE`: runs only when nothing else wants the CPU, and its I/O is in the idle
    /// class (the kernel derives it from the policy when none was set).
    private static var idleScheduling: Int32 { 5 }
}

/// The state of the background check, under the store's `backgroundCheck` mutex.
struct BackgroundCheck {
    var onDamage: (@Sendable (StoreError) -> Void)?
    /// The checking thread's connection while it reads, so it can be interrupted.
    var reader: ReaderHandle?
    var running = false
    /// Finished, found damage, or the store closed: never runs again.
    var ended = false
    /// Bumped by every stop: a thread whose generation is old reports nothing.
    var generation: UInt64 = 0
    /// Checking threads that have not yet closed their connection.
    var threads = 0
}

/// The checking connection, as the mutex holds it. Sendable because it is only touched under the
/// mutex (`sqlite3_interrupt`, which SQLite allows from any thread) and closed there.
struct ReaderHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// What the checking thread is handed.
private final class CheckThread {
    let store: Store
    let generation: UInt64
    init(store: Store, generation: UInt64) {
        self.store = store
        self.generation = generation
    }
}
