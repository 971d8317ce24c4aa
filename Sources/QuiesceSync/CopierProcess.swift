import Glibc
import QuiesceCopy
import QuiesceSpawn
import QuiesceThreads
import Synchronization

/// One `quiesce-copy` child, from start to its answer — or to being abandoned.
///
/// The answer is read on a thread of its own until the child closes its output, then the child is
/// reaped. Stopping it (the copy's abort flag) sends `SIGTERM`, and after the grace `SIGKILL`; the
/// caller is answered `aborted` then without waiting for the exit, which a NAS holding the child
/// in the kernel can delay for as long as it likes. The reading thread stays blocked until then;
/// that is what an abandoned copy costs the agent (one thread, no lock, nothing it waits for).
///
/// A pid is signalled only while the child is certainly not yet reaped: the reader waits for the
/// exit without reaping (`WNOWAIT`), marks it under the lock, and only then reaps.
final class CopierProcess: Sendable {
    private struct State {
        var continuation: CheckedContinuation<CopierReply, Never>?
        var answer: CopierReply?
        var exited = false
        var inputOpen = true
        /// We told it to stop: an end without an answer (killed by the `SIGTERM` before its
        /// handler was set) is the stop, not a failed copy.
        var stopping = false
    }

    private let pid: Int32
    /// Our end of the child's standard input: closed, it tells the child we are gone.
    private let input: Int32
    private let state = Mutex(State())

    private init(pid: Int32, input: Int32) {
        self.pid = pid
        self.input = input
    }

    static func run(
        executable: String, request: CopierRequest, abort: AbortFlag, grace: Duration, timeout: Duration?
    ) async -> CopierReply {
        if abort.isRaised { return .failed(.aborted) }
        let started: (pid: Int32, input: Int32, output: Int32)
        do {
            started = try spawn(executable, request.arguments)
        } catch {
            return .failed(.copierFailed(reason: error.description))
        }
        let child = CopierProcess(pid: started.pid, input: started.input)
        let output = started.output
        return await withCheckedContinuation { continuation in
            child.state.withLock { $0.continuation = continuation }
            do {
                // Its own thread: the read may block as long as a hung NAS holds the child.
                try DetachedThread.start(name: "quiesce-copier") { child.readAnswer(from: output) }
            } catch {
                close(output)
                child.abandon(answer: .failed(.copierFailed(reason: "\(error)")))
                return
            }
            abort.whenRaised { child.stop(grace: grace) }
            if let timeout {
                child.after(timeout) {
                    child.abandon(answer: .failed(.nasNotAnswering(path: request.root, seconds: Int(timeout.components.seconds))))
                }
            }
        }
    }

    /// Starts the child with a pipe on its standard input and one on its output (its standard
    /// error stays ours: the journal); returns its pid and our ends of the pipes. A wrapper such
    /// as `strace` finds its program on our `PATH`: the child gets this process's environment.
    private static func spawn(_ executable: String, _ arguments: [String]) throws(SpawnError) -> (pid: Int32, input: Int32, output: Int32) {
        let stdin = try Spawn.pipe()
        var opened = [stdin.read, stdin.write]
        do {
            let stdout = try Spawn.pipe()
            opened += [stdout.read, stdout.write]
            let pid = try Spawn.start(
                executable, arguments, environment: nil, stdin: .descriptor(stdin.read), stdout: .descriptor(stdout.write),
                stderr: .inherit)
            close(stdin.read)
            close(stdout.write)
            return (pid, stdin.write, stdout.read)
        } catch {
            for descriptor in opened { close(descriptor) }
            throw error
        }
    }

    /// The reading thread: the answer, the exit, then the reply (unless the child was abandoned).
    private func readAnswer(from output: Int32) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            bytes += buffer[0..<got]
        }
        close(output)
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        state.withLock { $0.exited = true }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let stopped = state.withLock { $0.stopping }
        let reply = CopierReply(decoding: bytes)
            ?? (stopped
                ? .failed(.aborted)
                : .failed(.copierFailed(reason: "it ended (exit status \(Spawn.exitCode(fromWaitStatus: status))) without saying how the copy went")))
        finish(reply)
    }

    /// Asks the child to stop; kills and abandons it if it has not within `grace`.
    private func stop(grace: Duration) {
        state.withLock { $0.stopping = true }
        send(SIGTERM)
        after(grace) { self.abandon(answer: .failed(.aborted)) }
    }

    /// Runs `action` after `delay` (a sleeping task: no thread held, no libdispatch timer).
    private func after(_ delay: Duration, _ action: @escaping @Sendable () -> Void) {
        Task {
            try? await Task.sleep(for: delay)
            action()
        }
    }

    /// Kills the child unless it answered, and answers the caller without waiting for its exit.
    /// The answer is taken before the kill, under the same lock, so the exit the kill causes is
    /// not read as the child's own answer.
    private func abandon(answer: CopierReply) {
        finish(answer) { state in
            if !state.exited { kill(self.pid, SIGKILL) }
        }
    }

    private func send(_ number: Int32) {
        state.withLock { state in
            if !state.exited && state.answer == nil { kill(pid, number) }
        }
    }

    /// The first answer wins: the child's, a stop's or a timeout's. `then` runs under the lock
    /// once the answer is this one.
    private func finish(_ reply: CopierReply, then: (inout State) -> Void = { _ in }) {
        let (continuation, closeInput) = state.withLock { state -> (CheckedContinuation<CopierReply, Never>?, Bool) in
            guard state.answer == nil else { return (nil, false) }
            state.answer = reply
            then(&state)
            defer {
                state.continuation = nil
                state.inputOpen = false
            }
            return (state.continuation, state.inputOpen)
        }
        if closeInput { close(input) }
        continuation?.resume(returning: reply)
    }
}

extension CopierRequest {
    /// The NAS root the request touches.
    var root: String {
        switch self {
        case .copy(let root, _, _, _, _), .check(let root, _, _), .removePartials(let root, _): root
        }
    }
}


