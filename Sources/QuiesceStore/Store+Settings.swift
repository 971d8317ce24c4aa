/// Settings the user changes while the agent runs and expects kept across a restart: whether sync
/// is paused.
extension Store {
    /// Whether the user paused sync (`PauseSync`): nothing new is copied until resumed.
    public func syncPaused() throws(StoreError) -> Bool {
        try write { database in
            try database.statement("SELECT value FROM settings WHERE key = 'sync_paused'").scalar() == 1
        }
    }

    /// Records whether sync is paused. Durable when this returns: a pause survives a crash.
    public func setSyncPaused(_ paused: Bool) throws(StoreError) {
        try write { database in
            try database.statement(
                "INSERT INTO settings (key, value) VALUES ('sync_paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ).run([.integer(paused ? 1 : 0)])
        }
    }
}
