import Glibc
import QuiesceCopy
import QuiesceStore
import QuiesceSync

/// What one `Enqueue` call queues: the files it names, and with `recursive` every file of the
/// folders it names, walked as they are queued.
///
/// - Every source is looked at before anything is written, and one that is wrong fails the call
///   with its own error and what to do; nothing is queued then.
/// - Files named directly go in one transaction. A folder goes in transactions of at most
///   ``batchSize`` files as it is walked, in packs of one subfolder's files (``JobPack``: a row
///   for up to ``SourceTree/walk(batchSize:partSize:abort:batch:)``'s part of a thousand files),
///   each committed before the walk goes on: the store's lock
///   is held for one batch at a time and nothing of the coordinator's at all, so a quit meanwhile
///   is not delayed, and a 100,000-file folder never waits on one huge transaction.
/// - ``progress`` hears the committed counts at most every ``reportInterval`` while folders are
///   walked, and once at the end of every call (so a caller waiting for it never waits in vain).
/// - ``abort`` (the agent is stopping) ends a walk between two batches: what was committed stays
///   queued, the call fails saying how much that was.
///
/// Blocking calls (stat, the walk, the store): run ``run(_:destination:)`` on a thread of its own.
struct EnqueueIntake: Sendable {
    /// Files a transaction of a walk holds at most: the store's lock is held for one (about
    /// 20 ms), and a 100,000-file folder costs 10 commits (fsyncs), not 100.
    static let batchSize = 10_000
    /// How often progress is reported while a folder is walked.
    static let reportInterval = Duration.milliseconds(250)
    /// Skipped entries one report lists at most (the rest are counted).
    static let skippedPerReport = 100

    /// A source, looked at.
    enum Source: Equatable, Sendable {
        case file(String)
        case folder(String)
    }

    /// What a walk has queued and skipped so far, as ``progress`` hears it.
    struct Progress: Sendable {
        var queued: Int
        var skipped: Int
        var finished: Bool
        /// Skipped since the last report (at most ``skippedPerReport``).
        var skippedNow: [SourceTree.Skipped]
    }

    let store: Store
    let abort: AbortFlag
    let progress: @Sendable (Progress) -> Void

    /// Looks at each source (following a link given by name, as a person typing it expects).
    /// - Throws: ``AgentError`` for the first source that cannot be queued, saying why and what to do.
    static func classify(_ sources: [String], recursive: Bool) throws(AgentError) -> [Source] {
        try sources.map { (path) throws(AgentError) -> Source in
            guard path.hasPrefix("/") else {
                throw .invalidArgument("the source \(shown(path)) is not an absolute path; give the full path (agentctl sync add does this for you)")
            }
            var info = stat()
            guard stat(path, &info) == 0 else {
                let code = errno
                switch code {
                case ENOENT, ENOTDIR:
                    throw .notFound("\(shown(path)): no such file or folder; check the path")
                case EACCES:
                    throw .invalidArgument("cannot read \(shown(path)) (\(String(cString: strerror(code)))): the agent runs as you; check the permissions of the folders on its way")
                default:
                    throw .invalidArgument("cannot look at \(shown(path)): \(String(cString: strerror(code)))")
                }
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                guard recursive else {
                    throw .invalidArgument("\(shown(path)) is a folder; to copy it with everything in it, pass the option recursive (agentctl sync add does, unless --no-recursive)")
                }
                try readable(path, flags: O_RDONLY | O_DIRECTORY, what: "the folder")
                return .folder(path)
            case S_IFREG:
                try readable(path, flags: O_RDONLY, what: "the file")
                return .file(path)
            case S_IFIFO:
                throw .invalidArgument("\(shown(path)) is a FIFO, not a file or folder; only files and folders can be copied")
            case S_IFSOCK:
                throw .invalidArgument("\(shown(path)) is a socket, not a file or folder; only files and folders can be copied")
            default:
                throw .invalidArgument("\(shown(path)) is a device, not a file or folder; only files and folders can be copied")
            }
        }
    }

    /// Queues what `sources` name into `destination`. Returns the ids of every job queued and how
    /// many entries were skipped.
    /// - Throws: the store's errors; ``AgentError/shuttingDown(_:)`` when ``abort`` cut a walk short.
    func run(_ sources: [Source], destination: String) throws -> (ids: [Int64], skipped: Int) {
        var ids: [Int64] = []
        var skipped = 0
        var unreported: [SourceTree.Skipped] = []
        var lastReport = ContinuousClock.now
        func report(finished: Bool) {
            progress(Progress(queued: ids.count, skipped: skipped, finished: finished, skippedNow: Array(unreported.prefix(Self.skippedPerReport))))
            unreported.removeAll()
            lastReport = .now
        }
        let files = sources.compactMap { if case .file(let path) = $0 { path } else { nil } }
        if !files.isEmpty { ids += try store.enqueue(sources: files, destination: destination) }
        let folders = sources.compactMap { if case .folder(let path) = $0 { path } else { nil } }
        for folder in folders {
            let completed = try SourceTree(folder: folder, destination: destination).walk(batchSize: Self.batchSize, abort: abort) { batch, passed in
                if !batch.isEmpty { ids += try store.enqueue(packs: batch) }
                skipped += passed.count
                unreported += passed.prefix(max(0, Self.skippedPerReport - unreported.count))
                if ContinuousClock.now - lastReport >= Self.reportInterval { report(finished: false) }
            }
            guard completed else {
                report(finished: true)
                throw AgentError.shuttingDown(
                    "the agent is stopping: \(ids.count) files of \(Self.shown(folder)) were queued and will be copied at its next start; give the folder again then to queue the rest (files already on the NAS are not copied twice)")
            }
        }
        report(finished: true)
        return (ids, skipped)
    }

    /// Opens and closes `path` to see it can be read (what the copy will do).
    private static func readable(_ path: String, flags: Int32, what: String) throws(AgentError) {
        let descriptor = open(path, flags | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw .invalidArgument("cannot read \(what) \(shown(path)) (\(String(cString: strerror(errno)))): the agent runs as you; check its permissions")
        }
        close(descriptor)
    }

    /// A path as a message shows it: long ones cut short.
    static func shown(_ path: String) -> String {
        path.count <= 120 ? path : "\(path.prefix(80))…\(path.suffix(20))"
    }
}
