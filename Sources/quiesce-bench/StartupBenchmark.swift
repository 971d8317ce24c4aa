import Foundation
import QuiesceDBus
import QuiesceStore

/// `agentd` start → its name on the bus, with 1,000,000 jobs in the database against an empty
/// one: the start must not read the queue.
enum StartupBenchmark {
    static func run(sessionBus: String, jobs: Int, rounds: Int) async throws -> Row {
        let control = try await BusConnection.open(address: sessionBus, label: "bench control")
        defer { control.close() }
        let empty = try scratchDirectory("startup-empty")
        let full = try scratchDirectory("startup-full")
        try fill(home: full, jobs: jobs)
        let size = (try? FileManager.default.attributesOfItem(atPath: databasePath(full))[.size] as? Int) ?? 0

        // One start each first, so both files are in the page cache as on a desktop's next login.
        for home in [empty, full] { try await startAndQuit(sessionBus: sessionBus, control: control, home: home) }
        var emptyStarts = Samples()
        var fullStarts = Samples()
        for round in 0..<rounds {
            for home in round % 2 == 0 ? [empty, full] : [full, empty] {
                let time = try await startAndQuit(sessionBus: sessionBus, control: control, home: home)
                if home == empty { emptyStarts.append(time) } else { fullStarts.append(time) }
            }
        }
        // For the record: the start after an unclean stop, which checks the whole file first.
        let killed = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control, home: full)
        kill(killed.pid, SIGKILL)
        _ = await killed.exit()
        let afterCrash = try await startAndQuit(sessionBus: sessionBus, control: control, home: full)

        let ratio = fullStarts.median.milliseconds / emptyStarts.median.milliseconds
        return Row(
            what: "`agentd` start → name on the bus, \(jobs.formatted()) jobs on disk (n=\(rounds))",
            baseline: "the same start with an empty database: median \(emptyStarts.median.readable)",
            goal: "≤ 1.5× the empty start (median)",
            measured: "median \(fullStarts.median.readable), p99 \(fullStarts.p99.readable) = \(ratio.ratio) (after an unclean stop, which checks the whole \(size / 1_000_000) MB file first: \(afterCrash.readable))",
            passed: ratio <= 1.5,
            howToRead: """
                from spawning `agentd` to the bus announcing it as the owner of its name, after a clean \
                stop, the database in the page cache. The start reads five kept counts, not the queue, \
                and leaves the whole-file check (`integrity_check`) to a thread at idle priority after \
                the start; only after an unclean stop (SQLite's log left behind) does the start check \
                the whole file first, which the bracket shows.
                """)
    }

    private static func databasePath(_ home: String) -> String { home + "/.local/state/quiesce/agent.db" }

    /// A database with `jobs` queued jobs, written through the store as the agent would.
    private static func fill(home: String, jobs: Int) throws {
        let store = try Store(path: databasePath(home))
        let batch = 100_000
        for start in stride(from: 0, to: jobs, by: batch) {
            let files = (start..<min(jobs, start + batch)).map { index in
                (source: "/home/user/Pictures/\(2000 + index / 50_000)/IMG_\(index).raw", destination: "photos/\(2000 + index / 50_000)")
            }
            _ = try store.enqueue(files: files)
        }
        try store.checkpoint()
        store.close()
    }

    @discardableResult
    private static func startAndQuit(sessionBus: String, control: BusConnection, home: String) async throws -> Duration {
        let agent = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control, home: home)
        try await control.quitAgent(force: true)
        let status = await agent.exit()
        guard status == 0 || status == 3 else { throw BenchmarkError(message: "agentd exited \(status); see \(home)/agentd.log") }
        return agent.startup
    }
}
