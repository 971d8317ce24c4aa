import Foundation
import QuiesceDBus

/// What an idle agent costs: memory after a minute, and how often it wakes while nothing happens —
/// beside a minimal Swift program that only waits on the bus (`quiesce-idle-baseline`), measured
/// over the same minute.
enum IdleFootprint {
    /// One process's figures, from /proc.
    struct Figures {
        var rssKB = 0
        var privateKB = 0
        /// Context switches of each thread by task id (each is a wake-up).
        var switches: [String: Int] = [:]

        /// Wake-ups since `earlier`: the growth of every thread, counting a thread that appeared
        /// meanwhile from zero (a thread that ended took its count with it, and had nothing to do).
        func wakeups(since earlier: Figures) -> Int {
            switches.reduce(0) { total, entry in total + entry.value - (earlier.switches[entry.key] ?? 0) }
        }
    }

    static func run(sessionBus: String, window: Duration) async throws -> Row {
        let control = try await BusConnection.open(address: sessionBus, label: "bench control")
        defer { control.close() }
        let agent = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control)
        let baseline = try spawnBaseline(sessionBus: sessionBus)
        defer {
            kill(baseline, SIGKILL)
            var status: Int32 = 0
            waitpid(baseline, &status, 0)
        }
        // Let both finish starting before the window opens.
        try await Task.sleep(for: .seconds(2))
        let agentBefore = figures(agent.pid), baselineBefore = figures(baseline)
        try await Task.sleep(for: window)
        let agentAfter = figures(agent.pid), baselineAfter = figures(baseline)
        try await control.quitAgent()
        _ = await agent.exit()

        let agentWakeups = agentAfter.wakeups(since: agentBefore)
        let baselineWakeups = baselineAfter.wakeups(since: baselineBefore)
        let seconds = Int(window.components.seconds)
        let privateMB = Double(agentAfter.privateKB) / 1024
        return Row(
            what: "Idle footprint after \(seconds) s",
            baseline: "a Swift program that only waits on the bus: RSS \(mb(baselineAfter.rssKB)), private \(mb(baselineAfter.privateKB)), \(baselineWakeups) wake-ups in \(seconds) s",
            goal: "private ≤ 8 MB; no periodic wake-ups of its own",
            measured: "RSS \(mb(agentAfter.rssKB)), private \(mb(agentAfter.privateKB)), \(agentWakeups) wake-ups in \(seconds) s (\(agentWakeups - baselineWakeups) more than the baseline)",
            // The baseline wakes too (libdispatch's manager thread ticks about once a second in any
            // Swift program here); what the agent must not do is wake more than that.
            passed: privateMB <= 8 && agentWakeups - baselineWakeups <= 2,
            howToRead: """
                an agent with nothing to do, after it started: resident memory (most of it the shared \
                Swift runtime, Foundation and ICU, which other Swift programs share), the private part \
                that is really its own (`Private_Clean + Private_Dirty` of `/proc/PID/smaps_rollup`), and \
                the context switches of all its threads over the window (`/proc/PID/task/*/status`): \
                each is a wake-up. The baseline shows the floor of any Swift program here (libdispatch's \
                manager thread ticks about once a second); the agent passes when it adds at most 2 to \
                it, i.e. nothing of its own polls. Private memory counts pages only this process maps, \
                so the agent's own binary and SQLite's code count in full.
                """)
    }

    private static func mb(_ kilobytes: Int) -> String {
        String(format: "%.1f MB", Double(kilobytes) / 1024)
    }

    private static func spawnBaseline(sessionBus: String) throws -> pid_t {
        try spawn(AgentProcess.sibling("quiesce-idle-baseline"), [], environment: ["DBUS_SESSION_BUS_ADDRESS": sessionBus])
    }

    static func figures(_ pid: pid_t) -> Figures {
        func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        func kilobytes(_ text: String, _ field: String) -> Int {
            text.split(separator: "\n").filter { $0.hasPrefix(field) }
                .compactMap { Int($0.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") }.reduce(0, +)
        }
        var figures = Figures()
        figures.rssKB = kilobytes(read("/proc/\(pid)/status"), "VmRSS:")
        let rollup = read("/proc/\(pid)/smaps_rollup")
        figures.privateKB = kilobytes(rollup, "Private_Clean:") + kilobytes(rollup, "Private_Dirty:")
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for task in tasks {
            let status = read("/proc/\(pid)/task/\(task)/status")
            figures.switches[task] = kilobytes(status, "voluntary_ctxt_switches:") + kilobytes(status, "nonvoluntary_ctxt_switches:")
        }
        return figures
    }
}
