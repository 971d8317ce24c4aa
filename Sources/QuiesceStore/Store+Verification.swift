import CSQLite
import Glibc
import QuiesceThreads
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
            if let reader = check.reader { sqlite3_interrupt(reader.handle) }
            // We are about to wait for it: at idle priority it would run only when nothing else
            // wants the CPU, so on a busy machine a close (a quit) waited for it in vain and left
            // SQLite's log behind. Its last steps run at normal priority. Under the lock the
            // thread needs to end, so it is still there.
            if let thread = check.thread {
                var parameters = sched_param()
                _ = pthread_setschedparam(thread, SCHED_OTHER, &parameters)
            }
            if forGood { check.ended = true }
            return running
        }
        // An interrupted integrity_check returns within milliseconds; 2 s bounds a thread that
        // is still opening its connection on a slow disk.
        Self.wait(while: { backgroundCheck.withLock { $0.threads > 0 } }, looks: 2000) { usleep(1000) }
        return running
    }

    /// Looks at `condition` until it is false, pausing between looks, at most `looks` times;
    /// returns how many looks it took. It stops at the first false: a `for _ in 0..<2000 where`
    /// loop did not, and took the lock 2,000 times with no check thread left: 0.06–0.26 ms of an
    /// idle agent's quit (A/B, 40 quits each), and of every checkpoint.
    @discardableResult
    static func wait(while condition: () -> Bool, looks: Int, pause: () -> Void) -> Int {
        var made = 0
        while made < looks {
            made += 1
            guard condition() else { break }
            pause()
        }
        return made
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
        do {
            try DetachedThread.start(name: "quiesce-dbcheck") { [self] in runBackgroundCheck(generation: generation) }
        } catch {
            // No thread: the file stays unchecked this run; the next start after an unclean stop checks it.
            backgroundCheck.withLock {
                $0.running = false
                $0.threads -= 1
            }
        }
    }

    private func runBackgroundCheck(generation: UInt64) {
        // Counted down after its connection is closed, whatever the way out.
        defer {
            backgroundCheck.withLock { check in
                check.threads -= 1
                if let thread = check.thread, pthread_equal(thread, pthread_self()) != 0 { check.thread = nil }
            }
        }
        // Registered and lowered in one step under the lock, so a stop that lifts it in between
        // cannot be undone by the lowering.
        backgroundCheck.withLock { check in
            check.thread = pthread_self()
            var parameters = sched_param()
            _ = sched_setscheduler(0, check.policy, &parameters)
        }
        let outcome: Result<String, DatabaseError>
        do {
            guard let reader = try? Database(path: path, readOnly: true) else {
                backgroundCheck.withLock { if $0.generation == generation { $0.running = false } }
                return
            }
            // Registered so `stopBackgroundCheck` can interrupt it, under the lock it does that under.
            let current = backgroundCheck.withLock { check -> Bool in
                guard check.generation == generation else { return false }
                check.reader = reader
                return true
            }
            guard current else { return }
            do { outcome = .success(try Self.integrityProblems(reader)) } catch { outcome = .failure(error) }
        }
        // `reader` ends with the block above: the state's reference is now the last, and dropping
        // it below, under the lock, closes the connection before the thread is counted out.
        let damaged = backgroundCheck.withLock { check -> Bool in
            check.reader = nil
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
    static func integrityProblems(_ database: Database) throws(DatabaseError) -> String {
        let findings = try database.statement("PRAGMA integrity_check(3)").rows { row in row.text(0) }
        return findings == ["ok"] ? "" : findings.joined(separator: "; ")
    }

    /// Linux's `SCHED_IDLE`: runs only when nothing else wants the CPU, and its I/O is in the idle
    /// class (the kernel derives it from the policy when none was set).
    static var idleScheduling: Int32 { 5 }
}

/// The state of the background check, under the store's `backgroundCheck` mutex.
struct BackgroundCheck {
    var onDamage: (@Sendable (StoreError) -> Void)?
    /// The checking thread's connection while it reads, so it can be interrupted.
    var reader: Database?
    var running = false
    /// Finished, found damage, or the store closed: never runs again.
    var ended = false
    /// Bumped by every stop: a thread whose generation is old reports nothing.
    var generation: UInt64 = 0
    /// Checking threads that have not yet closed their connection.
    var threads = 0
    /// The checking thread's scheduling policy: idle. Tests that wait for the check use the
    /// normal one: under a full test run an idle thread may not run for longer than they wait.
    var policy: Int32 = Store.idleScheduling
    /// The checking thread while it runs (the latest, should a stop have given up waiting for an
    /// earlier one), so a stop can lift it out of idle priority; cleared by the thread as it ends.
    var thread: pthread_t?
}
