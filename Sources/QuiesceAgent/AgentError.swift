public import QuiesceDBus
import QuiesceInterface

/// The agent's D-Bus errors (`io.github.quiesce.Error.*`), each with a message a person can act on.
public enum AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A quit or a system shutdown has begun: no new sessions or jobs.
    case shuttingDown(String)
    /// No such session or job, or nothing to answer.
    case notFound(String)
    /// An argument is unusable (empty, too long, not absolute, leaves the NAS root…).
    case invalidArgument(String)
    /// The caller is not the user the agent runs as.
    case accessDenied(String)
    /// The database could not be written (a full disk, an I/O error): nothing of the call was
    /// recorded, and what was recorded before is untouched.
    case storageFailed(String)

    public static let shuttingDownName: DBusError.Name = "io.github.quiesce.Error.ShuttingDown"
    public static let notFoundName: DBusError.Name = "io.github.quiesce.Error.NotFound"
    public static let invalidArgumentName: DBusError.Name = "io.github.quiesce.Error.InvalidArgument"
    public static let accessDeniedName: DBusError.Name = "io.github.quiesce.Error.AccessDenied"
    public static let storageFailedName: DBusError.Name = "io.github.quiesce.Error.StorageFailed"

    public var description: String {
        switch self {
        case .shuttingDown(let message), .notFound(let message), .invalidArgument(let message), .accessDenied(let message),
            .storageFailed(let message): message
        }
    }

    /// As sent on the bus.
    public var dbusError: DBusError {
        switch self {
        case .shuttingDown(let message): DBusError(name: Self.shuttingDownName, message: message)
        case .notFound(let message): DBusError(name: Self.notFoundName, message: message)
        case .invalidArgument(let message): DBusError(name: Self.invalidArgumentName, message: message)
        case .accessDenied(let message): DBusError(name: Self.accessDeniedName, message: message)
        case .storageFailed(let message): DBusError(name: Self.storageFailedName, message: message)
        }
    }
}

/// Why `agentd` could not start, said so that the user knows what to do. Exit status 1.
public enum AgentStartError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No session bus to serve on.
    case noSessionBus(String)
    /// Another agentd of this user owns the bus name.
    case alreadyRunning(pid: UInt32?)
    /// The bus refused us the name for another reason.
    case nameRefused(String)
    /// This build does not implement its interface XML (a method without a handler, a property
    /// without a value or of another type): a programming error, found at start rather than by
    /// the first caller.
    case interfaceMismatch(String)

    public var description: String {
        switch self {
        case .noSessionBus(let detail):
            "cannot reach the session bus (\(detail)). Run agentd inside your desktop session, or start one with dbus-run-session."
        case .alreadyRunning(let pid?):
            "agentd is already running for this user (pid \(pid)). Use agentctl status, or agentctl quit to stop it."
        case .alreadyRunning(nil):
            "agentd is already running for this user. Use agentctl status, or agentctl quit to stop it."
        case .nameRefused(let detail):
            "the session bus would not give us the name \(AgentInterface.busName): \(detail)"
        case .interfaceMismatch(let detail):
            "this agentd does not implement \(AgentInterface.interface) as dbus/\(AgentInterface.interface).xml declares it: \(detail). "
                + "Fix the handlers (AgentService, StatusBoard) or the XML, and rebuild."
        }
    }
}
