/// What can go wrong with the agent's database, each with a message that says what to do.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The state directory could not be created or made private.
    case directoryUnusable(path: String, reason: String)
    /// Another process holds the database (a second agent, or a tool).
    case lockedByAnotherProcess(path: String, pid: Int32?)
    /// `integrity_check` failed, or the file is not a database: it was moved aside.
    case corrupt(path: String, movedTo: String, detail: String)
    /// The file was written by a newer Quiesce; it is left untouched.
    case newerSchema(path: String, found: Int, supported: Int)
    /// The disk holding the database is full: nothing was written.
    case diskFull(path: String)
    /// Any other SQLite failure, kept whole.
    case database(DatabaseError)
    /// No such session or job (or not in a state where the request applies).
    case notFound(what: String)
    /// A request's arguments are unusable.
    case invalidArgument(String)
    /// The store was closed.
    case closed

    public var description: String {
        switch self {
        case .directoryUnusable(let path, let reason):
            "cannot use the state directory \(path): \(reason). Check that it is yours and writable, or set store.path elsewhere."
        case .lockedByAnotherProcess(let path, let pid?):
            "the database \(path) is in use by process \(pid) (another agentd?). Stop it first: agentctl quit."
        case .lockedByAnotherProcess(let path, nil):
            "the database \(path) is in use by another process. Stop it first: agentctl quit."
        case .corrupt(let path, let movedTo, let detail):
            "the database \(path) is damaged (\(detail)). It was moved aside to \(movedTo) and nothing was deleted; start the agent again to begin with a fresh database, or restore a backup to \(path)."
        case .newerSchema(let path, let found, let supported):
            "the database \(path) has schema version \(found), newer than this agent understands (\(supported)). Run the newer Quiesce, or point store.path elsewhere."
        case .diskFull(let path):
            "the disk holding \(path) is full; nothing was recorded. Free some space and try again."
        case .database(let error):
            "database error: \(error)"
        case .notFound(let what):
            "\(what) not found"
        case .invalidArgument(let message):
            message
        case .closed:
            "the store is closed (the agent is stopping)"
        }
    }
}

extension StoreError {
    /// Maps a SQLite error onto what the user should hear.
    init(_ error: DatabaseError, path: String) {
        self = error.code == .full ? .diskFull(path: path) : .database(error)
    }
}
