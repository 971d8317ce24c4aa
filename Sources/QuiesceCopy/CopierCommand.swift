import Glibc

/// The body of `quiesce-copy`: one request from the agent (``CopierRequest``), carried out in a
/// process of its own, the answer on standard output (``CopierReply``).
///
/// Why a process: a network NAS whose server stops answering holds the thread that touches it in
/// the kernel, uninterruptibly. In the agent's own process that thread would keep the agent from
/// ever exiting (a zombie its unit cannot stop); here it holds only this process, which the agent
/// abandons. How it ends:
/// - `SIGTERM` (the agent stops the copy): the copy stops at its next chunk and removes its
///   partial file, answering `aborted`;
/// - its standard input reaches end of file (the agent is gone, even by `SIGKILL`): it kills
///   itself at once, so no copy of a dead agent renames a file behind the next one's back. (Not
///   `PR_SET_PDEATHSIG`: that fires when the spawning *thread* ends, and the agent's threads come
///   and go.)
public enum CopierCommand {
    /// Raised by `SIGTERM`.
    static let abort = AbortFlag()

    /// Runs the request in `arguments` (without the program name); returns the exit status.
    public static func main(arguments: [String]) -> Int32 {
        _ = abort.isRaised
        signal(SIGTERM) { _ in CopierCommand.abort.raiseFromSignalHandler() }
        watchParent()
        guard let request = CopierRequest(arguments: arguments) else {
            let usage = "quiesce-copy is run by agentd, one request per process (copy, check, remove-partial); it was given: \(arguments.joined(separator: " "))\n"
            _ = usage.withCString { write(2, $0, strlen($0)) }
            answer(.failed(.copierFailed(reason: "it did not understand its arguments")))
            return 2
        }
        answer(run(request, abort: abort))
        return 0
    }

    /// Carries out `request` in this process (the child's work; also the in-process copier's).
    public static func run(_ request: CopierRequest, abort: AbortFlag) -> CopierReply {
        switch request {
        case .copy(let root, let copy, let requireMount, let localDirectory, let kernelCopy):
            let nas = NASRoot(path: root)
            if let problem = nas.unavailability(requireMount: requireMount, localDirectory: localDirectory) {
                return .failed(problem)
            }
            do {
                return .copied(try FileCopier(root: nas, kernelCopy: kernelCopy).copy(copy, abort: abort))
            } catch {
                return .failed(error)
            }
        case .check(let root, let requireMount, let localDirectory):
            if let problem = NASRoot(path: root).unavailability(requireMount: requireMount, localDirectory: localDirectory) {
                return .failed(problem)
            }
            return .fine
        case .removePartials(let root, let partials):
            let nas = NASRoot(path: root)
            if let problem = nas.unavailability(requireMount: false, localDirectory: nil) { return .failed(problem) }
            let left = partials.filter { !nas.removePartial(name: $0.name, destination: $0.destination) }
            guard let first = left.first else { return .fine }
            return .failed(.io(
                operation: "removing the partial copies of", path: first.name + (left.count > 1 ? " and \(left.count - 1) more" : ""),
                reason: "they may remain until those jobs are copied again"))
        }
    }

    /// Writes the answer whole (the agent reads to end of file).
    private static func answer(_ reply: CopierReply) {
        let bytes = reply.encoded
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let done = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if done < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += done
            }
        }
    }

    /// A thread that waits for end of file on standard input (the agent holds the other end of
    /// the pipe) and then kills this process.
    private static func watchParent() {
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { _ in
            var byte: UInt8 = 0
            while true {
                let got = read(0, &byte, 1)
                if got < 0 && errno == EINTR { continue }
                if got <= 0 { break }
            }
            kill(getpid(), SIGKILL)
            return nil
        }, nil)
        if started == 0 { pthread_detach(thread) }
    }
}
