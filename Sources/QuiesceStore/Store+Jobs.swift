/// The sync queue: enqueue, claim with a lease, complete, fail with backoff, retry, cancel,
/// recover after a crash, prune.
extension Store {
    private static let jobColumns =
        "id, source, destination, state, attempts, last_error, next_attempt_at, enqueued_at, updated_at, finished_at, size, checksum, landed_name, outcome"

    /// Queues one job per source, all in one transaction. Returns the ids only after the commit:
    /// once this returns, the jobs survive a crash or a power cut.
    /// - Throws: ``StoreError/invalidArgument(_:)`` for a source that is not an absolute file
    ///   path, or a destination that is absolute or climbs out with `..`. Nothing is queued then.
    public func enqueue(sources: [String], destination: String) throws(StoreError) -> [Int64] {
        guard !sources.isEmpty else { throw .invalidArgument("no files to copy were given") }
        return try enqueue(files: sources.map { ($0, destination) })
    }

    /// Queues one job per (source, destination) in one transaction: the files of a folder, each
    /// into its own subfolder. Same validation and promise as ``enqueue(sources:destination:)``.
    public func enqueue(files: [(source: String, destination: String)]) throws(StoreError) -> [Int64] {
        guard !files.isEmpty else { return [] }
        // Checked before anything is written; a destination once per run of equal ones (a
        // folder's files come grouped by subfolder).
        var destinations: [String] = []
        destinations.reserveCapacity(files.count)
        var last: (given: String, valid: String)?
        for (source, destination) in files {
            try Self.validateSource(source)
            if last?.given != destination { last = (destination, try Self.validDestination(destination)) }
            destinations.append(last!.valid)
        }
        let time = now()
        return try write { database in
            try database.transaction {
                let insert = try database.statement(
                    "INSERT INTO jobs (source, destination, next_attempt_at, enqueued_at, updated_at) VALUES (?, ?, 0, ?, ?)")
                try insert.bind(integer: time, at: 3)
                try insert.bind(integer: time, at: 4)
                var ids: [Int64] = []
                ids.reserveCapacity(files.count)
                var bound: String?
                for (index, file) in files.enumerated() {
                    try insert.bind(text: file.source, at: 1)
                    if bound != destinations[index] {
                        try insert.bind(text: destinations[index], at: 2)
                        bound = destinations[index]
                    }
                    try insert.runBound()
                    ids.append(database.lastInsertRowID)
                }
                // Inserts are counted here, once (migration 6 says why not by trigger).
                try database.statement("UPDATE job_counts SET n = n + ? WHERE state = 'queued'").run([.integer(Int64(ids.count))])
                return ids
            }
        }
    }

    /// Claims up to `limit` queued jobs whose retry time has come, oldest first, under this run's
    /// lease. A crash leaves them `in_flight` under a dead lease; the next run takes them back
    /// with ``recoverInterruptedJobs()``.
    public func claim(limit: Int) throws(StoreError) -> [JobRecord] {
        try write { database in
            try unpackForClaim(limit: limit, now: now(), database)
            return try database.statement(
                """
                UPDATE jobs SET state = 'in_flight', lease_owner = ?, updated_at = ?
                WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?)
                RETURNING \(Self.jobColumns)
                """
            ).rows([.text(instance), .integer(now()), .integer(now()), .integer(Int64(limit))], Self.job)
            .sorted { $0.id < $1.id }
        }
    }

    /// Marks an in-flight job done, with the verified size and checksum and how it landed, and
    /// records the landing as this agent's own in `root` — in one transaction, so a job is never
    /// done without the record that lets its next version replace it.
    /// - Parameters:
    ///   - landedName: the name on the NAS when it is not the source's.
    ///   - outcome: `copied`, `replaced`, `identical` or `kept-both`.
    public func complete(
        id: Int64, size: Int64, checksum: String, landedName: String? = nil, outcome: String = "copied", root: String? = nil
    ) throws(StoreError) {
        let time = now()
        let changed = try write { database -> Int in
            try database.transaction {
                let job = try database.statement(
                    "UPDATE jobs SET state = 'done', size = ?, checksum = ?, landed_name = ?, outcome = ?, last_error = NULL, lease_owner = NULL, finished_at = ?, updated_at = ? WHERE id = ? AND state = 'in_flight' AND lease_owner = ? RETURNING source, destination"
                ).rows([
                    .integer(size), .text(checksum), landedName.map { .text($0) } ?? .null, .text(outcome), .integer(time),
                    .integer(time), .integer(id), .text(instance),
                ]) { ($0.text(0), $0.text(1)) }
                guard let (source, destination) = job.first else { return 0 }
                if let root {
                    let name = landedName ?? (source.split(separator: "/").last.map(String.init) ?? source)
                    try Self.recordLanding(
                        database, root: root, directory: destination, source: source, name: name, size: size, checksum: checksum, at: time)
                }
                return 1
            }
        }
        guard changed == 1 else { throw .notFound(what: "in-flight job \(id) of this agent") }
    }

    /// Records a failed attempt. A retryable error queues the job again after a backoff; one that
    /// retrying cannot fix, or one attempt too many, marks it `failed`. Either way it is kept.
    @discardableResult
    public func recordFailure(
        id: Int64, error message: String, retryable: Bool, policy: RetryPolicy
    ) throws(StoreError) -> JobRecord {
        let time = now()
        let rows = try write { database -> [JobRecord] in
            guard let attempts = try database.statement(
                "SELECT attempts FROM jobs WHERE id = ? AND state = 'in_flight' AND lease_owner = ?"
            ).scalar([.integer(id), .text(instance)]) else { return [] }
            let made = Int(attempts) + 1
            let giveUp = !retryable || made >= policy.maxAttempts
            let next = time + policy.delay(afterAttempts: made).wholeMilliseconds
            return try database.statement(
                """
                UPDATE jobs SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ?, lease_owner = NULL,
                    updated_at = ?, finished_at = ? WHERE id = ? RETURNING \(Self.jobColumns)
                """
            ).rows([
                .text(giveUp ? JobState.failed.rawValue : JobState.queued.rawValue), .integer(Int64(made)),
                .text(message), .integer(giveUp ? 0 : next), .integer(time), giveUp ? .integer(time) : .null,
                .integer(id),
            ], Self.job)
        }
        guard let record = rows.first else { throw .notFound(what: "in-flight job \(id)") }
        return record
    }

    /// Puts an in-flight job back in the queue as it was: the copy was aborted (a force quit),
    /// not failed, so no attempt is counted and it runs first thing next time.
    public func requeue(id: Int64) throws(StoreError) {
        try updateInFlight(
            id: id,
            sql: "UPDATE jobs SET state = 'queued', lease_owner = NULL, updated_at = ? WHERE id = ? AND state = 'in_flight' AND lease_owner = ?",
            values: [.integer(now()), .integer(id), .text(instance)])
    }

    /// Puts an in-flight job back in the queue with the reason it could not run, counting no
    /// attempt: the NAS root went away under it, which is the NAS's state, not the job's. (Counted,
    /// a weekend away from the NAS would turn every queued job into a failed one.)
    public func postpone(id: Int64, reason: String) throws(StoreError) {
        try updateInFlight(
            id: id,
            sql: "UPDATE jobs SET state = 'queued', last_error = ?, lease_owner = NULL, updated_at = ? WHERE id = ? AND state = 'in_flight' AND lease_owner = ?",
            values: [.text(reason), .integer(now()), .integer(id), .text(instance)])
    }

    /// At start: jobs left in flight by an earlier run (it crashed or was killed) go back to the
    /// queue. Returns them, so their partial files can be removed.
    public func recoverInterruptedJobs() throws(StoreError) -> [JobRecord] {
        try write { database in
            try database.statement(
                "UPDATE jobs SET state = 'queued', lease_owner = NULL, updated_at = ? WHERE state = 'in_flight' AND (lease_owner IS NULL OR lease_owner != ?) RETURNING \(Self.jobColumns)"
            ).rows([.integer(now()), .text(instance)], Self.job)
        }
    }

    /// Queues a failed, cancelled or waiting job again, to run now.
    public func retry(id: Int64) throws(StoreError) {
        let changed = try write { database -> Int in
            try unpack(holding: id, database)
            try database.statement(
                "UPDATE jobs SET state = 'queued', next_attempt_at = 0, finished_at = NULL, updated_at = ? WHERE id = ? AND state IN ('queued', 'failed', 'cancelled')"
            ).run([.integer(now()), .integer(id)])
            return database.changes
        }
        guard changed == 1 else { throw .notFound(what: "job \(id) that can be retried (queued, failed or cancelled)") }
    }

    /// Cancels a job that is not being copied now.
    public func cancel(id: Int64) throws(StoreError) {
        let changed = try write { database -> Int in
            try unpack(holding: id, database)
            try database.statement(
                "UPDATE jobs SET state = 'cancelled', lease_owner = NULL, finished_at = ?, updated_at = ? WHERE id = ? AND state IN ('queued', 'failed')"
            ).run([.integer(now()), .integer(now()), .integer(id)])
            return database.changes
        }
        guard changed == 1 else { throw .notFound(what: "job \(id) that can be cancelled (queued or failed)") }
    }

    /// One job by id.
    public func job(id: Int64) throws(StoreError) -> JobRecord {
        let rows = try write { database in
            try unpack(holding: id, database)
            return try database.statement("SELECT \(Self.jobColumns) FROM jobs WHERE id = ?").rows([.integer(id)], Self.job)
        }
        guard let record = rows.first else { throw .notFound(what: "job \(id)") }
        return record
    }

    /// Jobs, oldest first (or newest first), optionally of some states only, at most `limit`;
    /// newest first with `before`, only jobs older than that id (a page's cursor: the last id of
    /// the page before).
    public func jobs(
        states: Set<JobState> = Set(JobState.allCases), limit: Int = .max, newestFirst: Bool = false, before: Int64? = nil
    ) throws(StoreError) -> [JobRecord] {
        let list = JobState.allCases.filter(states.contains).map { "'\($0.rawValue)'" }.joined(separator: ", ")
        guard !list.isEmpty else { return [] }
        // Every state asked for: no state filter, so the rowid order answers a LIMIT without a
        // sort (100 newest of 100,000 jobs: 14 ms with the filter, well under 1 ms without).
        var conditions: [String] = []
        if states.count != JobState.allCases.count { conditions.append("state IN (\(list))") }
        if before != nil { conditions.append("id < ?") }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let order = newestFirst ? "DESC" : "ASC"
        var values: [Statement.Value] = before.map { [.integer($0)] } ?? []
        values.append(.integer(Int64(min(limit, Int(Int64.max)))))
        return try write { database in
            if states.contains(.queued) { try unpackAll(database) }
            return try database.statement("SELECT \(Self.jobColumns) FROM jobs \(filter) ORDER BY id \(order) LIMIT ?").rows(values, Self.job)
        }
    }

    /// How many jobs are in each state. `inFlight` is the other half of the idle predicate.
    /// Five rows read, whatever the queue holds (the counts are kept as jobs change: migration 6).
    public func jobCounts() throws(StoreError) -> JobCounts {
        try write { database in try Self.counts(database, "SELECT state, n FROM job_counts") }
    }

    /// Counts from `sql`'s rows of (state, count).
    static func counts(_ database: Database, _ sql: String) throws -> JobCounts {
        var counts = JobCounts()
        _ = try database.statement(sql).rows { row in
            let count = Int(row.integer(1))
            switch JobState(rawValue: row.text(0)) {
            case .queued: counts.queued = count
            case .inFlight: counts.inFlight = count
            case .done: counts.done = count
            case .failed: counts.failed = count
            case .cancelled: counts.cancelled = count
            case nil: break
            }
        }
        return counts
    }

    /// The earliest retry time of a queued job, or nil when none waits.
    public func nextAttemptTime() throws(StoreError) -> Int64? {
        try write { database in
            // A packed job is ready at once.
            if try packsPending(database) { return 0 }
            return try database.statement("SELECT min(next_attempt_at) FROM jobs WHERE state = 'queued'").scalar()
        }
    }

    /// Deletes done and cancelled jobs that finished longer than `retention` ago by the store's
    /// clock. Failed jobs are kept: they still need the user.
    @discardableResult
    public func pruneFinished(olderThan retention: Duration) throws(StoreError) -> Int {
        try pruneFinished(before: now() - retention.wholeMilliseconds)
    }

    /// Deletes done and cancelled jobs finished before `cutoff` (Unix ms), so the file does not
    /// grow without bound. Failed jobs are kept: they still need the user.
    @discardableResult
    public func pruneFinished(before cutoff: Int64) throws(StoreError) -> Int {
        try write { database in
            try database.statement(
                "DELETE FROM jobs WHERE state IN ('done', 'cancelled') AND finished_at IS NOT NULL AND finished_at < ?"
            ).run([.integer(cutoff)])
            return database.changes
        }
    }

    // MARK: Helpers

    private func updateInFlight(id: Int64, sql: String, values: [Statement.Value]) throws(StoreError) {
        let changed = try write { database -> Int in
            try database.statement(sql).run(values)
            return database.changes
        }
        guard changed == 1 else { throw .notFound(what: "in-flight job \(id) of this agent") }
    }

    /// The longest path and file name Linux takes (`PATH_MAX`, `NAME_MAX`): longer ones could
    /// never be copied, so they are refused when queued rather than failing 25 times later.
    static let maximumPathBytes = 4096
    static let maximumNameBytes = 255

    /// A destination is a relative directory inside the NAS root: no absolute path, no `..`, no
    /// NUL, no longer than Linux allows. Empty or "." is the root itself. Returned normalized
    /// ("a/b", no empty components).
    static func validDestination(_ destination: String) throws(StoreError) -> String {
        guard !destination.hasPrefix("/") else {
            throw .invalidArgument("the destination \(shown(destination)) is absolute; give a directory relative to the NAS root")
        }
        guard !destination.utf8.contains(0) else {
            throw .invalidArgument("the destination contains a NUL byte")
        }
        let components = destination.split(separator: "/").filter { $0 != "." }
        guard !components.contains("..") else {
            throw .invalidArgument("the destination \(shown(destination)) climbs out with '..'; give a directory inside the NAS root")
        }
        try checkLength(destination, what: "the destination")
        return components.joined(separator: "/")
    }

    /// A source is an absolute path naming a file (not ending in `/`, `.` or `..`), without NUL,
    /// no longer than Linux allows. One pass over its bytes: a folder's 100,000 files are checked
    /// on the way into the queue.
    static func validateSource(_ source: String) throws(StoreError) {
        let bytes = source.utf8
        guard bytes.first == UInt8(ascii: "/") else {
            throw .invalidArgument("the source \(shown(source)) is not an absolute path")
        }
        guard bytes.count < maximumPathBytes else {
            throw .invalidArgument("the source \(shown(source)) is \(bytes.count) bytes long; Linux paths end at \(maximumPathBytes)")
        }
        var name = 0
        var dots = 0
        for byte in bytes {
            switch byte {
            case 0:
                throw .invalidArgument("a source path contains a NUL byte")
            case UInt8(ascii: "/"):
                name = 0
                dots = 0
            default:
                name += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
                guard name <= maximumNameBytes else { try checkLength(source, what: "the source"); return }
            }
        }
        guard name > 0, !(name == dots && dots <= 2) else {
            throw .invalidArgument("the source \(shown(source)) does not name a file")
        }
    }

    private static func checkLength(_ path: String, what: String) throws(StoreError) {
        guard path.utf8.count < maximumPathBytes else {
            throw .invalidArgument("\(what) \(shown(path)) is \(path.utf8.count) bytes long; Linux paths end at \(maximumPathBytes)")
        }
        if let long = path.split(separator: "/").first(where: { $0.utf8.count > maximumNameBytes }) {
            throw .invalidArgument("\(what) has a name of \(long.utf8.count) bytes (\(shown(String(long)))); Linux names end at \(maximumNameBytes)")
        }
    }

    /// A path as a message shows it: long ones cut short, so an error stays readable.
    private static func shown(_ path: String) -> String {
        path.count <= 120 ? path : "\(path.prefix(80))…\(path.suffix(20))"
    }

    private static func job(_ row: Row) -> JobRecord {
        JobRecord(
            id: row.integer(0), source: row.text(1), destination: row.text(2),
            state: JobState(rawValue: row.text(3)) ?? .queued, attempts: Int(row.integer(4)),
            lastError: row.optionalText(5), nextAttemptAt: row.integer(6), enqueuedAt: row.integer(7),
            updatedAt: row.integer(8), finishedAt: row.optionalInteger(9), size: row.optionalInteger(10),
            checksum: row.optionalText(11), landedName: row.optionalText(12), outcome: row.optionalText(13))
    }
}
