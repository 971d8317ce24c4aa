/// A folder's files as the queue takes them: one folder's files (a part of them, in practice at
/// most a thousand) going into one NAS folder.
///
/// A job a row costs SQLite 2–5 µs a file on this hardware (the row, its index entry, the id),
/// which alone was more than listing the folder: 100,000 files queued at 0.09× the speed of
/// `find` listing them. So the store keeps a folder's files as they were queued — one row a pack,
/// the names side by side — and makes the job rows only when a job is needed one by one (a
/// claim, a list, a retry). The ids are the jobs' from the start (reserved in order when the pack
/// is queued), the kept counts count them as queued, and nothing outside the store can tell.
public struct JobPack: Sendable, Hashable {
    /// The folder the files are in, absolute.
    public var directory: String
    /// The NAS folder they go into, relative to the NAS root.
    public var destination: String
    /// The files' names in ``directory`` (no `/`).
    public var names: [String]

    public init(directory: String, destination: String, names: [String]) {
        self.directory = directory
        self.destination = destination
        self.names = names
    }
}

extension Store {
    /// Queues the files of `packs` in one transaction, a row a pack, and returns their job ids in
    /// order. Same promise as ``enqueue(sources:destination:)``: once this returns, the jobs
    /// survive a crash or a power cut; a pack that is not valid fails the whole call before
    /// anything is written.
    public func enqueue(packs: [JobPack]) throws(StoreError) -> [Int64] {
        var rows: [(pack: JobPack, destination: String, names: [UInt8])] = []
        rows.reserveCapacity(packs.count)
        for pack in packs where !pack.names.isEmpty {
            rows.append((pack, try Self.validDestination(pack.destination), try Self.packedNames(pack)))
        }
        guard !rows.isEmpty else { return [] }
        let time = now()
        return try write { database in
            try database.transaction {
                let first = try Self.lastJobID(database) + 1
                var next = first
                let insert = try database.statement(
                    "INSERT INTO job_packs (first_id, directory, destination, names, count, enqueued_at) VALUES (?, ?, ?, ?, ?, ?)")
                for row in rows {
                    try insert.run([
                        .integer(next), .text(row.pack.directory), .text(row.destination), .blob(row.names),
                        .integer(Int64(row.pack.names.count)), .integer(time),
                    ])
                    next += Int64(row.pack.names.count)
                }
                try Self.reserveJobIDs(through: next - 1, database)
                // Counted as queued now, as a job a row would be (migration 6).
                try database.statement("UPDATE job_counts SET n = n + ? WHERE state = 'queued'").run([.integer(next - first)])
                database.packsPending = true
                return Array(first..<next)
            }
        }
    }

    // MARK: Unpacking

    /// Makes the rows of every packed job; for reads that need them all (a list).
    func unpackAll(_ database: Database) throws {
        guard try packsPending(database) else { return }
        try unpack(database) { _, _ in true }
    }

    /// Makes the rows of the pack holding job `id`, if one does (a retry, a cancel, a look at
    /// one job).
    func unpack(holding id: Int64, _ database: Database) throws {
        guard try packsPending(database) else { return }
        let holder = try database.statement(
            "SELECT first_id FROM job_packs WHERE first_id <= ? AND first_id + count > ? ORDER BY first_id DESC LIMIT 1"
        ).scalar([.integer(id), .integer(id)])
        guard let holder else { return }
        try unpack(database, first: holder)
    }

    /// Makes the rows a claim of `limit` jobs needs: the packs, in id order, whose jobs come
    /// before the `limit`-th ready job that already has a row, until `limit` jobs were unpacked
    /// (a later pack's ids are all higher). A claim then takes the oldest ready jobs, as if
    /// every job had a row, and at most about `limit` more rows are made.
    func unpackForClaim(limit: Int, now time: Int64, _ database: Database) throws {
        guard try packsPending(database) else { return }
        let ready = try database.statement(
            "SELECT id FROM jobs WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?"
        ).rows([.integer(time), .integer(Int64(limit))]) { row in row.integer(0) }
        let bound = ready.count < limit ? Int64.max : ready[ready.count - 1]
        try unpack(database) { first, unpacked in first < bound && unpacked < limit }
    }

    /// Whether packs wait to be unpacked: known after the first look, kept as packs come and go.
    func packsPending(_ database: Database) throws -> Bool {
        if let known = database.packsPending { return known }
        let found = try database.statement("SELECT EXISTS (SELECT 1 FROM job_packs)").scalar() == 1
        database.packsPending = found
        return found
    }

    /// Unpacks packs in id order while `more(first id, jobs unpacked so far)` says so, in
    /// transactions of about ``unpackTransaction`` jobs.
    private func unpack(_ database: Database, while more: (Int64, Int) -> Bool) throws {
        let next = try database.statement("SELECT first_id FROM job_packs WHERE first_id > ? ORDER BY first_id LIMIT 1")
        var after: Int64 = -1
        var unpacked = 0
        var exhausted = false
        while !exhausted {
            var stop = false
            try database.transaction {
                var inTransaction = 0
                while inTransaction < Self.unpackTransaction {
                    guard let first = try next.scalar([.integer(after)]) else { exhausted = true; return }
                    guard more(first, unpacked) else { stop = true; return }
                    let count = try unpackRows(database, first: first)
                    unpacked += count
                    inTransaction += count
                    after = first
                }
            }
            if stop { return }
        }
        database.packsPending = false
    }

    /// Unpacks the one pack starting at `first`, in a transaction of its own. Whether others
    /// remain is looked at again when next asked (``packsPending(_:)``).
    private func unpack(_ database: Database, first: Int64) throws {
        try database.transaction { _ = try unpackRows(database, first: first) }
        database.packsPending = nil
    }

    /// Inserts the job rows of the pack at `first` and deletes the pack. Inside a transaction.
    private func unpackRows(_ database: Database, first: Int64) throws -> Int {
        let packs = try database.statement(
            "SELECT directory, destination, names, enqueued_at FROM job_packs WHERE first_id = ?"
        ).rows([.integer(first)]) { row in (row.text(0), row.text(1), row.blob(2), row.integer(3)) }
        guard let (directory, destination, names, enqueuedAt) = packs.first else { return 0 }
        let insert = try database.statement(
            "INSERT INTO jobs (id, source, destination, next_attempt_at, enqueued_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)")
        try insert.bind(text: destination, at: 3)
        try insert.bind(integer: enqueuedAt, at: 4)
        try insert.bind(integer: enqueuedAt, at: 5)
        var id = first
        for name in names.split(separator: 0, omittingEmptySubsequences: false) {
            try insert.bind(integer: id, at: 1)
            try insert.bind(text: directory + "/" + String(decoding: name, as: UTF8.self), at: 2)
            try insert.runBound()
            id += 1
        }
        try database.statement("DELETE FROM job_packs WHERE first_id = ?").run([.integer(first)])
        return Int(id - first)
    }

    /// Jobs one unpacking transaction holds at most (one commit, one fsync, for about 10,000).
    static let unpackTransaction = 10_000

    // MARK: Ids

    /// The highest job id given so far, to a row or to a pack.
    private static func lastJobID(_ database: Database) throws -> Int64 {
        let reserved = try database.statement("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").scalar() ?? 0
        let used = try database.statement("SELECT max(id) FROM jobs").scalar() ?? 0
        return max(reserved, used)
    }

    /// Makes the ids up to `last` taken: `jobs` is AUTOINCREMENT, so SQLite never gives them to a
    /// row again (its counter lives in `sqlite_sequence`), and an unpacked job's row takes its own.
    private static func reserveJobIDs(through last: Int64, _ database: Database) throws {
        try database.statement("UPDATE sqlite_sequence SET seq = ? WHERE name = 'jobs'").run([.integer(last)])
        if database.changes == 0 {
            try database.statement("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)").run([.integer(last)])
        }
    }

    // MARK: Validation

    /// The pack's names, NUL-separated, each checked as a source path would be: a name (not `.`,
    /// `..`, empty, or holding `/` or NUL), the whole path no longer than Linux allows.
    private static func packedNames(_ pack: JobPack) throws(StoreError) -> [UInt8] {
        try validateSource(pack.directory + "/x")
        let room = maximumPathBytes - pack.directory.utf8.count - 1
        var bytes: [UInt8] = []
        bytes.reserveCapacity(pack.names.count * 16)
        for (index, name) in pack.names.enumerated() {
            if index > 0 { bytes.append(0) }
            let start = bytes.count
            bytes.append(contentsOf: name.utf8)
            let length = bytes.count - start
            // Checked where the bytes now are, in one pass (a folder's 100,000 names).
            let separated = bytes.withUnsafeBufferPointer { all in
                all[start...].contains { $0 == 0 || $0 == UInt8(ascii: "/") }
            }
            guard length > 0, name != ".", name != "..", !separated else {
                throw .invalidArgument("the file name \"\(name.prefix(64))\" in \(pack.directory.prefix(120)) is not a file's name")
            }
            guard length <= maximumNameBytes, length < room else {
                throw .invalidArgument("\(pack.directory.prefix(120))/\(name.prefix(64))… is too long for Linux (names end at \(maximumNameBytes) bytes, paths at \(maximumPathBytes))")
            }
        }
        return bytes
    }
}
