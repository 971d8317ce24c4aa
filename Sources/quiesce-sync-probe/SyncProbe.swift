import Glibc
import Logging
import QuiesceCore
import QuiesceStore
import QuiesceSync

/// A test helper, not a product: drives the real store and worker in a process of its own, so the
/// crash tests can SIGKILL it at random points.
///
/// - `quiesce-sync-probe run DB NAS SOURCE…` enqueues each source as its own durable batch,
///   printing `ack <id> <source>` after each commit, while the worker copies; prints `idle` when
///   the queue is empty.
/// - `quiesce-sync-probe recover DB NAS` starts the worker (which recovers what a killed run
///   left), waits until the queue is empty, prints `drained`.
@main
struct SyncProbe {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.count >= 3, ["run", "recover"].contains(arguments[0]) else {
            say("usage: quiesce-sync-probe run|recover DB NAS [SOURCE…]", to: 2)
            exit(2)
        }
        var logger = Logger(label: "probe")
        logger.logLevel = .warning
        do {
            let store = try Store(path: arguments[1])
            let worker = SyncWorker(
                store: store, nasRoot: arguments[2], concurrency: 2, claims: Gate(name: "claims", open: true),
                logger: logger)
            try await worker.start()
            for source in arguments.dropFirst(3) {
                let ids = try store.enqueue(sources: [source], destination: destination(of: source))
                say("ack \(ids[0]) \(source)")
                worker.wake()
            }
            while true {
                let counts = try store.jobCounts()
                if counts.queued == 0 && counts.inFlight == 0 { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            try await worker.stop()
            say(arguments[0] == "run" ? "idle" : "drained")
        } catch {
            say("probe: \(error)", to: 2)
            exit(1)
        }
    }

    /// Writes one line with a single unbuffered `write`: an acknowledgement must be in the pipe
    /// before the next step, never in a stdio buffer when SIGKILL arrives.
    static func say(_ line: String, to descriptor: Int32 = 1) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    /// Sources live in `<dir>/<batch>/<name>`; their copies go to `<batch>/` in the NAS root.
    static func destination(of source: String) -> String {
        let parts = source.split(separator: "/")
        return parts.count >= 2 ? String(parts[parts.count - 2]) : ""
    }
}
