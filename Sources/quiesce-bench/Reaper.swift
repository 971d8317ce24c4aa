import Glibc
import QuiesceSpawn
import QuiesceThreads
import Synchronization

/// A child waited for from now on by a thread of its own, already blocked in `waitpid` when the
/// child is asked to exit, which notes the instant `waitpid` returned. So an exit is timed as its
/// parent sees it, the way the SIGKILL baseline is timed around a blocking `waitpid`: without a
/// thread started, or a task resumed, after the child is gone (together 0.1–0.3 ms here, which
/// the quit row used to count as the agent's).
final class Reaper: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Reaped, Never>?)
        case reaped(Reaped)
    }

    struct Reaped: Sendable {
        /// As a shell shows it: the exit status, or 128 + the signal.
        let status: Int32
        let instant: ContinuousClock.Instant
    }

    private let state = Mutex(State.waiting(nil))

    init(_ pid: pid_t) throws {
        try DetachedThread.start(name: "bench-reaper") { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            finish(Reaped(status: Spawn.exitCode(fromWaitStatus: status), instant: .now))
        }
    }

    private func finish(_ reaped: Reaped) {
        let waiter = state.withLock { state -> CheckedContinuation<Reaped, Never>? in
            defer { state = .reaped(reaped) }
            guard case .waiting(let waiter) = state else { return nil }
            return waiter
        }
        waiter?.resume(returning: reaped)
    }

    /// Returns once the child has been reaped.
    func reaped() async -> Reaped {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Reaped? in
                if case .reaped(let reaped) = state { return reaped }
                state = .waiting(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}
