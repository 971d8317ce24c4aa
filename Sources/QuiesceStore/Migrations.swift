/// The schema's history, one step a version. `PRAGMA user_version` records how far a file has
/// come; opening a file runs the steps it lacks, each in its own transaction.
///
/// Never edit a step that has shipped: add a new one.
enum Migrations {
    static let steps: [String] = [
        // 1: sessions and the sync queue.
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            bound INTEGER NOT NULL,
            owner_uid INTEGER NOT NULL,
            owner_pid INTEGER NOT NULL,
            owner_connection TEXT,
            instance TEXT NOT NULL,
            opened_at INTEGER NOT NULL,
            closed_at INTEGER,
            close_reason TEXT
        );
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source TEXT NOT NULL,
            destination TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'in_flight', 'done', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_attempt_at INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT,
            enqueued_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        """,
        // 2: verification of copies (size and checksum), completion time for pruning, and the
        // indexes the worker's claim and the idle counts use.
        """
        ALTER TABLE jobs ADD COLUMN size INTEGER;
        ALTER TABLE jobs ADD COLUMN checksum TEXT;
        ALTER TABLE jobs ADD COLUMN finished_at INTEGER;
        CREATE INDEX jobs_ready ON jobs (state, next_attempt_at, id);
        CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE INDEX sessions_open ON sessions (closed_at, instance) WHERE closed_at IS NULL;
        """,
        // 3: open bound sessions by their client's connection, so closing the sessions of clients
        // that left the bus is a lookup, not a scan (1,000 clients leaving at once took 190 ms).
        """
        CREATE INDEX sessions_owner ON sessions (owner_connection) WHERE closed_at IS NULL AND bound = 1;
        """,
        // 4: the agent's own settings that outlive a run (sync paused by the user).
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
        // 5: nothing on the NAS replaced by surprise. Each job says how its copy landed (its name
        // when that is a conflict name, and whether it was copied, replaced, found identical or
        // kept beside another file); `landings` remembers what the agent last wrote into each NAS
        // directory from each source, the only file it may replace there.
        """
        ALTER TABLE jobs ADD COLUMN landed_name TEXT;
        ALTER TABLE jobs ADD COLUMN outcome TEXT;
        CREATE TABLE landings (
            root TEXT NOT NULL,
            directory TEXT NOT NULL,
            source TEXT NOT NULL,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            checksum TEXT NOT NULL,
            confirmed INTEGER NOT NULL,
            written_at INTEGER NOT NULL,
            PRIMARY KEY (root, directory, source)
        ) WITHOUT ROWID;
        """,
        // 6: the number of jobs in each state, kept as the rows change, so a start (and every
        // status) reads five rows instead of counting a queue that may hold a million jobs.
        // Changes of state and deletions keep it by trigger; inserts add their number once a
        // transaction in `Store.enqueue` (a trigger a row cost a quarter of a batch insert's time).
        """
        CREATE TABLE job_counts (
            state TEXT PRIMARY KEY,
            n INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO job_counts (state, n)
            SELECT name, (SELECT count(*) FROM jobs WHERE jobs.state = name)
            FROM (SELECT 'queued' AS name UNION ALL SELECT 'in_flight' UNION ALL SELECT 'done'
                  UNION ALL SELECT 'failed' UNION ALL SELECT 'cancelled');
        CREATE TRIGGER job_counts_on_update AFTER UPDATE OF state ON jobs WHEN old.state IS NOT new.state
        BEGIN
            UPDATE job_counts SET n = n - 1 WHERE state = old.state;
            UPDATE job_counts SET n = n + 1 WHERE state = new.state;
        END;
        CREATE TRIGGER job_counts_on_delete AFTER DELETE ON jobs
        BEGIN
            UPDATE job_counts SET n = n - 1 WHERE state = old.state;
        END;
        """,
        // 7: open sessions in rowid order, so a page of them after a cursor reads its rows and no
        // more (with sessions_open, ordered by instance, SQLite sorted all open sessions for every
        // page: 3 ms for 100 of 10,000).
        """
        CREATE INDEX sessions_open_order ON sessions (closed_at) WHERE closed_at IS NULL;
        """,
        // 8: a folder's files queued as packs, a row for up to a thousand files of one folder
        // (their names side by side), made into job rows when a job is needed one by one: a row
        // a job cost SQLite more than listing the folder did. `first_id` is the id of the pack's
        // first job, the others follow; the ids are reserved in sqlite_sequence when the pack is
        // queued, and the packed jobs are counted as queued in job_counts (see Store+Packs).
        """
        CREATE TABLE job_packs (
            first_id INTEGER PRIMARY KEY,
            directory TEXT NOT NULL,
            destination TEXT NOT NULL,
            names BLOB NOT NULL,
            count INTEGER NOT NULL CHECK (count > 0),
            enqueued_at INTEGER NOT NULL
        );
        """,
    ]

    static var latest: Int { steps.count }

    /// Brings `database` up to `target` (the latest by default).
    /// - Throws: ``StoreError/newerSchema(path:found:supported:)`` for a file from a newer agent.
    static func migrate(_ database: Database, upTo target: Int = latest) throws {
        let current = Int(try database.statement("PRAGMA user_version").scalar() ?? 0)
        guard current <= latest else {
            throw StoreError.newerSchema(path: database.path, found: current, supported: latest)
        }
        for version in current..<min(target, latest) {
            try database.transaction {
                try database.execute(steps[version])
                try database.execute("PRAGMA user_version = \(version + 1)")
            }
        }
    }
}
