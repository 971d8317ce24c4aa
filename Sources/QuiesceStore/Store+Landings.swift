/// What the agent last wrote into each directory of the NAS from each source: the only file it
/// may replace there without asking, and only while it still holds those bytes (the copier checks).
extension Store {
    /// What this agent last wrote into `directory` of `root` from `source`: its name, size, checksum.
    public func landing(
        root: String, directory: String, source: String
    ) throws(StoreError) -> (name: String, size: Int64, checksum: String, confirmed: Bool)? {
        try write { database in
            try database.statement(
                "SELECT name, size, checksum, confirmed FROM landings WHERE root = ? AND directory = ? AND source = ?"
            ).rows([.text(root), .text(directory), .text(source)]) { ($0.text(0), $0.integer(1), $0.text(2), $0.integer(3) != 0) }.first
        }
    }

    /// Records a landing the NAS did not confirm, without completing a job: a copy renamed into
    /// place whose directory `fsync` failed. The job is copied again, and the retry rewrites this
    /// file (it is ours) rather than trusting bytes that may exist only in the page cache.
    public func recordUnconfirmedLanding(
        root: String, directory: String, source: String, name: String, size: Int64, checksum: String
    ) throws(StoreError) {
        let time = now()
        try write { database in
            try Self.recordLanding(
                database, root: root, directory: directory, source: source, name: name, size: size, checksum: checksum,
                confirmed: false, at: time)
        }
    }

    static func recordLanding(
        _ database: Database, root: String, directory: String, source: String, name: String, size: Int64, checksum: String, confirmed: Bool = true,
        at time: Int64
    ) throws {
        try database.statement(
            """
            INSERT INTO landings (root, directory, source, name, size, checksum, confirmed, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (root, directory, source) DO UPDATE SET name = excluded.name, size = excluded.size,
                checksum = excluded.checksum, confirmed = excluded.confirmed, written_at = excluded.written_at
            """
        ).run([
            .text(root), .text(directory), .text(source), .text(name), .integer(size), .text(checksum),
            .integer(confirmed ? 1 : 0), .integer(time),
        ])
    }
}
