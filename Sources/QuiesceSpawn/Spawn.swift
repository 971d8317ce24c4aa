import CSpawn
import Glibc
import QuiesceThreads

/// What a child's standard stream is.
public enum ChildStream: Sendable, Hashable {
    /// /dev/null.
    case devNull
    /// Ours, unchanged (a command run from a terminal keeps the terminal).
    case inherit
    /// A descriptor of ours, put in its place (a pipe, a log file).
    case descriptor(Int32)

    var code: Int32 {
        switch self {
        case .devNull: Int32(QUIESCE_SPAWN_DEVNULL)
        case .inherit: Int32(QUIESCE_SPAWN_INHERIT)
        case .descriptor(let fd): fd
        }
    }
}

/// A program could not be started: its name and the errno that said why.
public struct SpawnError: Error, Sendable, Hashable, CustomStringConvertible {
    public let executable: String
    public let code: Int32

    public var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
}

/// Starting and waiting for children the way a daemon, `agentctl run` and the test rig need: an
/// empty signal mask and default handlers, and none of our descriptors but the three standard
/// streams (`CSpawn`). One place, so the argv/envp marshalling and the wait-status decoding are
/// written once.
public enum Spawn {
    /// Starts `executable` with `arguments`; returns its pid.
    /// - Parameters:
    ///   - environment: the child's environment; `nil` hands it this process's own as it is
    ///     (no copy: the sync worker starts a copier this way for every file).
    ///   - searchPath: look `executable` up in `PATH` (a command typed by a user).
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String]?,
        stdin: ChildStream = .devNull, stdout: ChildStream = .devNull, stderr: ChildStream = .devNull, searchPath: Bool = false
    ) throws(SpawnError) -> Int32 {
        var pid: pid_t = 0
        let result = withCStrings([executable] + arguments) { argv in
            guard let environment else {
                return quiesce_spawn(&pid, executable, argv, environ, stdin.code, stdout.code, stderr.code, searchPath ? 1 : 0)
            }
            return withCStrings(environment.map { "\($0.key)=\($0.value)" }) { envp in
                quiesce_spawn(&pid, executable, argv, envp, stdin.code, stdout.code, stderr.code, searchPath ? 1 : 0)
            }
        }
        guard result == 0 else { throw SpawnError(executable: executable, code: result) }
        return pid
    }

    /// A pipe whose ends no other child inherits: (read, write).
    public static func pipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard quiesce_pipe_cloexec(&ends) == 0 else { throw SpawnError(executable: "pipe", code: errno) }
        return (ends[0], ends[1])
    }

    /// Waits for a child to exit on a thread of its own (never the Swift pool, which the caller
    /// may need meanwhile) and returns its exit code.
    public static func waitForExit(_ pid: Int32) async -> Int32 {
        await DetachedThread.run(name: "quiesce-wait") {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return exitCode(fromWaitStatus: status)
        }
    }

    /// A `waitpid` status as a shell shows it: the exit status, or 128 + N when killed by signal N.
    public static func exitCode(fromWaitStatus status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

/// Runs `body` with `strings` as a NULL-terminated C array (argv, envp).
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
