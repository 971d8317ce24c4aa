public import Foundation

/// A private `dbus-daemon` for one test: its own socket in a temp directory, an allow-all policy
/// and **no service directories**, so nothing is ever auto-started on it (a call to an absent
/// service answers `ServiceUnknown` at once). Stopped by pid when dropped.
public final class PrivateBus: @unchecked Sendable {
    // Safe: every stored property is set once in init.
    public let address: String
    public let pid: Int32
    private let directory: TemporaryDirectory
    private let daemon: Process

    /// - Parameter type: "session" or "system" (logind wants a bus of type system).
    public init(type: String = "session") throws {
        directory = TemporaryDirectory("quiesce-bus")
        let socket = directory.file("bus_socket")
        let config = directory.file("bus.conf")
        try """
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>\(type)</type>
              <listen>unix:path=\(socket)</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow user="*"/>
                <allow own="*"/>
                <allow send_destination="*" eavesdrop="true"/>
                <allow receive_sender="*"/>
                <allow eavesdrop="true"/>
              </policy>
              <limit name="max_match_rules_per_connection">2048</limit>
            </busconfig>
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: "/usr/bin/dbus-daemon")
        // In the foreground, as our own child: a daemon that forks away keeps Foundation's
        // descriptors open and its parent is never seen to exit.
        daemon.arguments = ["--config-file=\(config)", "--nofork", "--print-address=1", "--print-pid=1"]
        let output = Pipe()
        daemon.standardOutput = output
        // Nothing of ours stays open in the daemon: a test runner killed mid-test must not leave
        // its output pipe held by a bus.
        daemon.standardError = FileHandle.nullDevice
        daemon.standardInput = FileHandle.nullDevice
        do {
            try daemon.run()
        } catch {
            throw PeerMissing(what: "dbus-daemon (Debian package dbus-daemon): \(error)")
        }
        // It keeps running: read the two lines it prints, not to the end.
        var printed = Data()
        while printed.filter({ $0 == UInt8(ascii: "\n") }).count < 2 {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            printed.append(chunk)
        }
        let lines = String(decoding: printed, as: UTF8.self).split(separator: "\n").map(String.init)
        guard daemon.isRunning, lines.count >= 2, let pid = Int32(lines[1]) else {
            throw PeerMissing(what: "a private dbus-daemon (it printed: \(lines))")
        }
        address = lines[0]
        self.pid = pid
        self.daemon = daemon
    }

    deinit {
        stopChild(pid)
        _ = daemon
    }

    /// The environment a child process needs to use this bus as its session bus.
    public var sessionEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["DBUS_SESSION_BUS_ADDRESS"] = address
        return environment
    }
}

/// Stops a throwaway test daemon by pid with SIGKILL and reaps it.
///
/// Not SIGTERM: a child spawned from a libdispatch worker thread inherits that thread's blocked
/// signal mask (posix_spawn keeps it), so SIGTERM stays pending in it forever. Anything of ours
/// that spawns children for real must reset the mask (`POSIX_SPAWN_SETSIGMASK`).
public func stopChild(_ pid: Int32) {
    kill(pid, SIGKILL)
    var status: Int32 = 0
    _ = waitpid(pid, &status, 0)
}

/// Starts a test peer (a mock, logind, dunst, Xvfb) with quiet standard streams: nothing of the
/// test runner's stays open in it. `environment` nil inherits ours.
public func spawnPeer(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
        try process.run()
    } catch {
        throw PeerMissing(what: "\(executable): \(error)")
    }
    return process
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
