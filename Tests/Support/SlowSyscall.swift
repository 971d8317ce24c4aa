import Foundation

/// One system call of a running process made slow, by `strace` attached to it (every thread, and
/// the threads it starts later) with `--inject=CALL:delay_exit=…`: a real process, really slowed.
///
/// How a test keeps an agent's 100,000-file walk under way long enough for a quit or a `SIGKILL` to
/// land in its middle, on a machine that walks the whole tree in a tenth of a second: each
/// `getdents64` returns late, so the walk advances in steps the test can outpace, and nothing in
/// the agent knows.
public final class SlowSyscall: Sendable {
    private let tracer: PeerProcess

    /// Attaches to `pid` and returns once every thread it has is traced.
    public init(pid: Int32, call: String, delay: Duration) async throws {
        let strace = "/usr/bin/strace"
        guard access(strace, X_OK) == 0 else { throw PeerMissing(what: "strace (Debian package strace)") }
        let microseconds = delay.components.seconds * 1_000_000 + delay.components.attoseconds / 1_000_000_000_000
        tracer = try PeerProcess(strace, [
            "-f", "-qq", "-o", "/dev/null", "-p", "\(pid)",
            "-e", "trace=\(call)", "-e", "inject=\(call):delay_exit=\(microseconds)",
        ])
        let tracer = tracer
        try await eventually("strace attached to every thread of \(pid)") {
            guard tracer.isRunning else { throw PeerMissing(what: "strace could not attach to \(pid) (ptrace not allowed?)") }
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return !tasks.isEmpty && tasks.allSatisfy { task in
                let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
                return status.contains("TracerPid:\t\(tracer.pid)\n")
            }
        }
    }

    /// Detaches (strace leaves its tracee running when it ends), or reaps strace when the tracee
    /// died.
    public func stop() {
        tracer.stop()
    }

    deinit {
        tracer.stop()
    }
}
