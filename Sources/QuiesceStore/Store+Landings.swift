/// What the agent last wrote into each directory of the NAS from each source: the only file it
/// may replace there without asking, and only while it still holds those bytes (the copier checks).
extension Store {
    /// What this agent last wrote into `directory` of `root` from `source`: its name, size, checksum.
    public func landing(root: String, directory: String, source: String) throws(StoreError) -> (name: String, size: Int64, checksum: String)? {
        try write { database in
            try database.statement(
                "SELECT name, size, checksum FROM landings WHERE root = ? AND directory = ? AND source = ?"
            ).rows([.text(root), .text(directory), .text(source)]) { ($0.text(0), $0.integer(1), $0.text(2)) }.first
        }
    }

    /// Records a landing without completing a job: a copy renamed into place whose directory
    /// `fsync` failed. The job is copied again, and the retry may replace this file (it is ours).
    public func recordLanding(
        root: String, directory: String, source: String, name: String, size: Int64, checksum: String
    ) throws(StoreError) {
        let time = now()
        try write { database in
            try Self.recordLanding(database, root: root, directory: directory, source: source, name: name, size: size, checksum: checksum, at: time)
        }
    }

    static func recordLanding(
        _ database: Database, root: String, directory: String, source: String, name: String, size: Int64, checksum: String, at time: Int64
    ) throws {
        try database.statement(
            """
            INSERT INTO landings (root, directory, source, name, size, checksum, written_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (root, directory, source) DO UPDATE SET name = excluded.name, size = excluded.size,
                checksum = excluded.checksum, written_at = excluded.written_at
            """
        ).run([.text(root), .text(directory), .text(source), .text(name), .integer(size), .text(checksum), .integer(time)])
    }
}
