import Glibc

/// Why a copy did not complete. Each says whether trying again later can help, and what the user
/// can do.
public enum CopyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No NAS root is configured (`sync.nas_root`): jobs wait in the queue.
    case nasRootNotConfigured
    /// The NAS root does not exist or is not a directory (not mounted?).
    case nasRootUnavailable(path: String, reason: String)
    /// The NAS root is on the local disk (`sync.require_mount`): nothing is mounted there.
    case nasRootNotMounted(path: String, sameAs: String)
    /// The NAS root or a directory in it refuses writes.
    case nasReadOnly(path: String, reason: String)
    /// The disk holding the NAS root is full (or over quota).
    case noSpace(path: String)
    /// A destination component is a symbolic link, or something other than a directory: the
    /// agent never follows links inside the NAS root.
    case escapesRoot(destination: String, component: String, reason: String)
    /// The source cannot be opened or read.
    case sourceUnreadable(path: String, reason: String)
    /// The source is a directory or a device, not a file.
    case sourceNotAFile(path: String)
    /// The source changed while it was copied.
    case sourceChanged(path: String)
    /// Reading the copy back did not give the bytes written.
    case verificationFailed(path: String, expected: String, found: String)
    /// The destination name is taken by a directory.
    case destinationIsDirectory(path: String)
    /// Any other I/O error.
    case io(operation: String, path: String, reason: String)
    /// The name is taken by a file this agent did not write, and `sync.on_conflict` is `fail`.
    case conflict(path: String)
    /// The NAS root is a network filesystem that lost its server (the connection is gone).
    case nasUnreachable(path: String, reason: String)
    /// The NAS did not answer within the time given (a network filesystem whose server hangs).
    case nasNotAnswering(path: String, seconds: Int)
    /// The copy was renamed into place, but the NAS did not confirm the directory was written
    /// (its `fsync` failed): it may not survive a power cut, so the job is not done. `landed` is
    /// what now has the name, so the retry may replace it.
    case notDurable(path: String, reason: String, landed: Landing)
    /// The copier process could not be started, or ended without saying how the copy went.
    case copierFailed(reason: String)
    /// The copy was stopped on purpose (force quit, agent stopping): the job goes back to the
    /// queue as it was.
    case aborted

    /// Whether the error is the NAS's state rather than the job's: jobs wait for it, counting no
    /// attempt.
    public var isNASUnavailable: Bool {
        switch self {
        case .nasRootNotConfigured, .nasRootUnavailable, .nasRootNotMounted, .nasUnreachable, .nasNotAnswering: true
        default: false
        }
    }

    /// Whether the job should be tried again after a backoff, rather than marked failed.
    public var isRetryable: Bool {
        switch self {
        case .escapesRoot, .sourceNotAFile, .destinationIsDirectory, .conflict: false
        default: true
        }
    }

    public var description: String {
        switch self {
        case .nasRootNotConfigured:
            "no NAS root is configured; set sync.nas_root (or QUIESCE_SYNC_NAS_ROOT) and the queue will start"
        case .nasRootUnavailable(let path, let reason):
            "the NAS root \(path) is not available (\(reason)); is the NAS mounted? Queued copies start when it is back"
        case .nasRootNotMounted(let path, let local):
            "the NAS root \(path) is not mounted (it is on the same filesystem as \(local), and sync.require_mount is on); mount the NAS and the queued copies start"
        case .nasReadOnly(let path, let reason):
            "cannot write into \(path) on the NAS (\(reason)); the job will be retried"
        case .noSpace(let path):
            "the NAS is full (writing \(path)); free space there and the job will be retried"
        case .escapesRoot(let destination, let component, let reason):
            "the destination \(destination) is refused: \(component) \(reason); Quiesce follows no links inside the NAS root. Fix the directory, then: agentctl sync retry"
        case .sourceUnreadable(let path, let reason):
            "cannot read \(path) (\(reason)); the job will be retried"
        case .sourceNotAFile(let path):
            "\(path) is not a regular file; only files can be copied"
        case .sourceChanged(let path):
            "\(path) changed while it was being copied; it will be copied again"
        case .verificationFailed(let path, let expected, let found):
            "the copy of \(path) did not verify (expected \(expected), read back \(found)); it will be copied again"
        case .destinationIsDirectory(let path):
            "\(path) on the NAS is a directory; remove or rename it, then: agentctl sync retry"
        case .io(let operation, let path, let reason):
            "\(operation) \(path) failed: \(reason); the job will be retried"
        case .conflict(let path):
            "\(path) on the NAS is a different file this agent did not write, and sync.on_conflict is fail; move one of them aside (or set sync.on_conflict: keep-both), then: agentctl sync retry"
        case .nasUnreachable(let path, let reason):
            "the NAS at \(path) is unreachable (\(reason)); queued copies start when it is back"
        case .nasNotAnswering(let path, let seconds):
            "the NAS at \(path) did not answer for \(seconds) s (is its server or network down?); queued copies start when it answers"
        case .notDurable(let path, let reason, _):
            "\(path) is in place but the NAS could not confirm it is stored (\(reason)); it will be copied again"
        case .copierFailed(let reason):
            "the copier process failed (\(reason)); the job will be retried"
        case .aborted:
            "the copy was stopped; the job is back in the queue"
        }
    }
}

/// The text of an errno value.
func describe(_ code: Int32) -> String {
    String(cString: strerror(code))
}
