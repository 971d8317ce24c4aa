import QuiesceSpawn
public import Foundation

import Synchronization

/// A long-running test peer (a bus, a mock, logind, Xvfb, dunst), started with `posix_spawn` and
/// owned by the test alone.
///
/// Not Foundation's `Process`: it watches its child from libdispatch's manager thread, and reaping
/// a child behind its back (which stopping a peer by pid does) crashed that thread. Spawned by
/// `Spawn.start` (QuiesceSpawn), a peer also gets what a daemon should: an empty signal mask and default
/// handlers, stdin and stderr on /dev/null, and none of the test runner's other descriptors (a
/// peer holding another command's output pipe would keep that command's reader waiting for ever).
public final class PeerProcess: Sendable {
    public let pid: Int32
    /// The read end of the peer's standard output, when it was asked for.
    public let output: FileHandle?
    private let status = Mutex<Int32?>(nil)

    /// - Parameters:
    ///   - captureOutput: standard output to ``output``, a pipe.
    ///   - logFile: standard output and error appended to this file (the agent's log in tests).
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, captureOutput: Bool = false, logFile: String? = nil
    ) throws {
        var log: Int32 = -1
        if let logFile {
            log = open(logFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard log >= 0 else { throw PeerMissing(what: "a log file at \(logFile): \(String(cString: strerror(errno)))") }
        }
        defer { if log >= 0 { close(log) } }
        let ends = captureOutput ? try Spawn.pipe() : nil
        let output: ChildStream = ends.map { .descriptor($0.write) } ?? (log >= 0 ? .descriptor(log) : .devNull)
        do {
            pid = try Spawn.start(
                executable, arguments, environment: environment ?? ProcessInfo.processInfo.environment,
                stdout: output, stderr: log >= 0 ? .descriptor(log) : .devNull)
        } catch {
            if let ends { close(ends.read); close(ends.write) }
            throw PeerMissing(what: error.description)
        }
        if let ends { close(ends.write) }
        self.output = ends.map { FileHandle(fileDescriptor: $0.read, closeOnDealloc: true) }
    }

    deinit {
        stop()
    }

    /// Whether the peer still runs (an exited peer is reaped here and stays exited).
    public var isRunning: Bool {
        status.withLock { status in
            if status != nil { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            return status == nil
        }
    }

    /// Stops the peer: SIGTERM, so it can clean up after itself (Xvfb removes its lock and
    /// socket), then SIGKILL if it has not exited within half a second; and reaps it.
    public func stop() {
        status.withLock { status in
            guard status == nil else { return }
            var raw: Int32 = 0
            kill(pid, SIGTERM)
            for _ in 0..<50 {
                if waitpid(pid, &raw, WNOHANG) == pid {
                    status = raw
                    return
                }
                usleep(10_000)
            }
            kill(pid, SIGKILL)
            if waitpid(pid, &raw, 0) == pid { status = raw }
        }
    }

    /// Sends a signal.
    public func signal(_ number: Int32) {
        kill(pid, number)
    }

    /// Sends `signal` after `delay`, timed by a dispatch timer (precise whatever the Swift thread
    /// pool is busy with); not if the process has been reaped by then.
    public func signal(_ signal: Int32, after delay: Duration) {
        onDispatchTimer(after: delay) {
            self.status.withLock { status in
                if status == nil { kill(self.pid, signal) }
            }
        }
    }

    /// Waits for the process to exit by itself, without holding a cooperative thread, and returns
    /// its exit status (128 + N when killed by signal N).
    public func exitStatus() async -> Int32 {
        let raw: Int32 = await withCheckedContinuation { continuation in
            DispatchQueue(label: "io.github.quiesce.test.peer-exit").async {
                if let known = self.status.withLock({ $0 }) {
                    continuation.resume(returning: known)
                    return
                }
                var raw: Int32 = 0
                while waitpid(self.pid, &raw, 0) < 0 && errno == EINTR {}
                self.status.withLock { $0 = $0 ?? raw }
                continuation.resume(returning: self.status.withLock { $0 } ?? raw)
            }
        }
        return Spawn.exitCode(fromWaitStatus: raw)
    }
}

/// Runs a command to completion through ``PeerProcess`` and returns its exit status and output.
///
/// For commands that leave a daemon behind (`tmux new-session` starts a server): Foundation's
/// `Process` would wait for ever on a socket the daemon inherited; here the daemon gets nothing of
/// ours but /dev/null and the output pipe, which it does not keep.
public func runDetached(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: String) {
    let process = try PeerProcess(executable, arguments, environment: environment, captureOutput: true)
    let output: Data = await withCheckedContinuation { continuation in
        DispatchQueue(label: "io.github.quiesce.test.detached").async {
            continuation.resume(returning: process.output?.readDataToEndOfFile() ?? Data())
        }
    }
    return (await process.exitStatus(), String(decoding: output, as: UTF8.self))
}
