import Foundation

/// A private `dbus-daemon` for one test: its own socket in a temp directory, an allow-all policy
/// and **no service directories**, so nothing is ever auto-started on it (a call to an absent
/// service answers `ServiceUnknown` at once). Killed by pid when dropped.
public final class PrivateBus: @unchecked Sendable {
    // Safe: every stored property is set once in init.
    public let address: String
    private let directory: TemporaryDirectory
    private let daemon: PeerProcess

    /// - Parameter type: "session" or "system" (logind wants a bus of type system).
    public init(type: String = "session") throws {
        directory = TemporaryDirectory("quiesce-bus")
        // The recipe (configuration, flags) is the rig script's: `exec` makes its pid the daemon's.
        // In the foreground, as our own child, so that stopping it is ours to do.
        let daemon = try PeerProcess(rigScript, ["exec", "bus", type, directory.path], captureOutput: true)
        // It keeps running: read the two lines it prints (address, pid), not to the end.
        var printed = Data()
        while printed.filter({ $0 == UInt8(ascii: "\n") }).count < 2 {
            let chunk = daemon.output!.availableData
            if chunk.isEmpty { break }
            printed.append(chunk)
        }
        let lines = String(decoding: printed, as: UTF8.self).split(separator: "\n").map(String.init)
        guard daemon.isRunning, lines.count >= 2, Int32(lines[1]) == daemon.pid else {
            throw PeerMissing(what: "a private dbus-daemon (it printed: \(lines))")
        }
        address = lines[0]
        self.daemon = daemon
    }

    /// The daemon's pid.
    public var pid: Int32 { daemon.pid }

    /// Lets other users reach the socket (for tests of callers with another uid; the bus's policy
    /// already lets any user connect).
    public func openToOtherUsers() {
        chmod(directory.path, 0o711)
    }

    /// The environment a child process needs to use this bus as its session bus.
    public var sessionEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["DBUS_SESSION_BUS_ADDRESS"] = address
        return environment
    }
}

/// The rig script (`scripts/rig.sh`): every peer's recipe lives there, once, for the tests, the
/// benchmarks and anyone trying the agent by hand.
public let rigScript = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("scripts/rig.sh").path

/// Starts one peer of the rig (`scripts/rig.sh exec PEER ARGS`) as our child.
public func spawnRigPeer(_ peer: String, _ arguments: [String] = [], environment: [String: String]? = nil) throws -> PeerProcess {
    try PeerProcess(rigScript, ["exec", peer] + arguments, environment: environment)
}

/// A peer the tests need is not installed or did not start. Under CI this fails the run, with
/// what to install.
public struct PeerMissing: Error, CustomStringConvertible {
    public let what: String
    public init(what: String) { self.what = what }
    public var description: String { "test peer missing: \(what). Run make setup (as root) to install it." }
}

/// Runs a command to completion on a thread of its own, without holding a cooperative thread: the
/// command may be calling back into this process (gdbus calling our exported object), whose
/// handlers need the pool.
public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: String, error: String) {
    try await withCheckedThrowingContinuation { continuation in
        // A queue of its own gets a thread of its own; the global queue is capped near the core
        // count, and several tests waiting on commands at once would starve it.
        DispatchQueue(label: "io.github.quiesce.test.run").async {
            continuation.resume(with: Result { try runBlocking(executable, arguments, environment: environment) })
        }
    }
}

/// Runs a command to completion and returns its exit status and output. Blocks the calling thread.
public func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    do {
        try process.run()
    } catch {
        throw PeerMissing(what: "\(executable): \(error)")
    }
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}
