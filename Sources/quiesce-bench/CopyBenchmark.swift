import Foundation
import Logging
import QuiesceCopy
import QuiesceCore
import QuiesceStore
import QuiesceSync

/// Row 6c: the verified, durable copy beside `cp` followed by `sync` on the same files.
enum CopyBenchmark {
    static func run(files: Int, megabytes: Int, rounds: Int) async throws -> Row {
        let root = try scratchDirectory("copy")
        let sources = root + "/src"
        try FileManager.default.createDirectory(atPath: sources, withIntermediateDirectories: true)
        let random = FileHandle(forReadingAtPath: "/dev/urandom")!
        var paths: [String] = []
        for index in 0..<files {
            let path = "\(sources)/file-\(index).bin"
            _ = FileManager.default.createFile(atPath: path, contents: random.readData(ofLength: megabytes << 20))
            paths.append(path)
        }
        let total = Double(files * megabytes)
        // Both sides read from a warm page cache: what is measured is writing durably.
        _ = try runBaseline("/bin/sh", ["-c", "cat '\(sources)'/* > /dev/null && sync"])

        let copier = Copier.process(executable: try Copier.locate(environment: ProcessInfo.processInfo.environment))
        var ours: [Double] = []
        var single: [Double] = []
        var theirs: [Double] = []
        for round in 0..<rounds {
            // Rotate who goes first, so no side always gets the calmer disk.
            for turn in [0, 1, 2].map({ ($0 + round) % 3 }) {
                let target = root + "/dst-\(round)-\(turn)"
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                _ = try runBaseline("/bin/sync", [])
                switch turn {
                case 0:
                    ours.append(total / (try await workerCopy(paths, into: target, scratch: root + "/db-\(round)", copier: copier)).seconds)
                case 1:
                    single.append(total / (try await workerCopy(paths, into: target, scratch: root + "/dbi-\(round)", copier: .inProcess)).seconds)
                default:
                    let (_, elapsed) = try runBaseline("/bin/sh", ["-c", "cp '\(sources)'/* '\(target)'/ && sync"])
                    theirs.append(total / elapsed.seconds)
                }
                try? FileManager.default.removeItem(atPath: target)
            }
        }
        let ratio = median(ours) / median(theirs)
        return Row(
            what: "Copy throughput, \(files) × \(megabytes) MiB (n=\(rounds))",
            baseline: "`cp` then `sync`: \(median(theirs).grouped) MiB/s",
            goal: "≥ 0.90× cp + sync",
            measured: "\(median(ours).grouped) MiB/s = \(ratio.ratio) (copying in the agent's own process instead: \(median(single).grouped) MiB/s = \((median(single) / median(theirs)).ratio))",
            passed: ratio >= 0.9,
            howToRead: """
                MiB per second written durably, sources in the page cache. Measured is the sync \
                worker as the agent runs it (default `sync.concurrency` = 2, queue bookkeeping \
                included, each copy in a `quiesce-copy` child process so a hung NAS cannot hold the \
                agent): each file streams into a partial file while its source is hashed, is read \
                back to verify size and checksum, fsynced, renamed into place, and its directory \
                fsynced. In brackets, the same worker copying on its own threads: the difference \
                is what isolation costs. The baseline \
                copies all files with coreutils `cp` and flushes once with `sync`. This disk is \
                shared and noisy: medians over rounds that rotate who goes first.
                """)
    }

    /// Enqueues `paths` and lets a sync worker copy them; returns the time until the last is done.
    private static func workerCopy(_ paths: [String], into target: String, scratch: String, copier: Copier) async throws -> Duration {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let store = try Store(path: scratch + "/agent.db")
        let worker = SyncWorker(store: store, nasRoot: target, claims: Gate(name: "claims", open: true), copier: copier, logger: logger)
        try await worker.start()
        let changes = worker.inFlight.changes()
        let start = ContinuousClock.now
        _ = try store.enqueue(sources: paths, destination: "")
        worker.wake()
        for await _ in changes {
            if try store.jobCounts().done == paths.count { break }
        }
        let elapsed = start.duration(to: .now)
        try await worker.stop()
        return elapsed
    }
}
