import Foundation
import QuiesceDBus

/// What an idle agent costs: memory after a minute, and how often it wakes while nothing happens —
/// beside a Swift program that only waits on the bus on the same executors as the agent, the
/// same program on the default (libdispatch) executor, and the bus daemon itself, measured over
/// the same minute.
enum IdleFootprint {
    /// Context switches of a process's threads, followed by thread id through a window: a thread
    /// that starts within it counts from its birth (zero), one that ends keeps what it had at the
    /// last sample. Two snapshots summed at the ends would miss (or subtract) what vanished
    /// threads did when libdispatch's pool replaces its threads.
    final class WakeupTracker {
        let pid: pid_t
        private var first: [String: Int] = [:]
        private var last: [String: Int] = [:]
        private(set) var threadsSeen = 0

        init(pid: pid_t) {
            self.pid = pid
            first = IdleFootprint.switches(pid)
            last = first
        }

        func sample() {
            for (task, count) in IdleFootprint.switches(pid) {
                if first[task] == nil, last[task] == nil { first[task] = 0 }
                last[task] = count
            }
        }

        var wakeups: Int { last.reduce(0) { $0 + $1.value - (first[$1.key] ?? 0) } }
        var threads: Int { last.count }
    }

    static func run(sessionBus: String, window: Duration) async throws -> Row {
        let control = try await BusConnection.open(address: sessionBus, label: "bench control")
        defer { control.close() }
        let agent = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control)
        let ownExecutors = try spawnBaseline(sessionBus: sessionBus, ["--own-executors"])
        let defaultExecutor = try spawnBaseline(sessionBus: sessionBus, [])
        defer {
            for pid in [ownExecutors, defaultExecutor] {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
        }
        let daemon = try await control.call(try DBusMessage.methodCall(
            destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus",
            member: "GetConnectionUnixProcessID", arguments: [.string("org.freedesktop.DBus")])).arguments().first?.uint32
        // Let all finish starting before the window opens.
        try await Task.sleep(for: .seconds(2))
        let pids = [agent.pid, ownExecutors, defaultExecutor] + (daemon.map { [pid_t($0)] } ?? [])
        let trackers = pids.map(WakeupTracker.init(pid:))
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: window)
        while clock.now < end {
            try await Task.sleep(for: .milliseconds(20))
            for tracker in trackers { tracker.sample() }
        }
        let agentMemory = memory(agent.pid), baselineMemory = memory(ownExecutors)
        try await control.quitAgent()
        _ = await agent.exit()

        let seconds = Int(window.components.seconds)
        let (agentTracker, own, dispatch) = (trackers[0], trackers[1], trackers[2])
        let daemonText = trackers.count > 3 ? "; dbus-daemon: \(trackers[3].wakeups)" : ""
        return Row(
            what: "Idle footprint after \(seconds) s",
            baseline: "a Swift program that only waits on the bus, on the agent's executors: RSS \(mb(baselineMemory.rss)), private dirty \(mb(baselineMemory.dirty)), \(own.wakeups) wake-ups in \(seconds) s; the same on libdispatch's executor: \(dispatch.wakeups)\(daemonText)",
            goal: "private dirty ≤ 8 MB; 0 wake-ups",
            measured: "RSS \(mb(agentMemory.rss)), private dirty \(mb(agentMemory.dirty)) (and \(mb(agentMemory.clean)) of clean file pages, its own binary's mostly), \(agentTracker.wakeups) wake-ups in \(seconds) s (\(agentTracker.threads) threads)",
            passed: Double(agentMemory.dirty) / 1024 <= 8 && agentTracker.wakeups == 0,
            howToRead: """
                an agent with nothing to do, after it started: resident memory, the memory that is \
                really its own and cannot be given back (`Private_Dirty` of `/proc/PID/smaps_rollup`: \
                heap, stacks, written data), and beside it the clean pages of files only it maps \
                (`Private_Clean`: code and read-only data, which the kernel drops and re-reads under \
                pressure). The agent links the Swift runtime, Foundation and ICU statically, so their \
                pages count as its own clean pages; linked dynamically they were counted as shared \
                only because the baseline, running beside it, mapped the same libraries (RSS then 27 MB, \
                now 21 MB). And \
                the context switches of all its threads over the window, each a wake-up: every thread's \
                `/proc/PID/task/TID/status` read every 20 ms and followed by its id, a thread born in the \
                window counted from zero. The agent's tasks run on threads of its own that sleep on \
                condition variables (QuiesceThreads), its blocking work on threads of their own, its \
                signals taken by `sigwaitinfo`: on libdispatch's executor the same waiting program wakes \
                about once a second (its worker pool's monitor), which is what the agent used to add.
                """)
    }

    private static func mb(_ kilobytes: Int) -> String {
        String(format: "%.1f MB", Double(kilobytes) / 1024)
    }

    private static func spawnBaseline(sessionBus: String, _ arguments: [String]) throws -> pid_t {
        try spawn(AgentProcess.sibling("quiesce-idle-baseline"), arguments, environment: ["DBUS_SESSION_BUS_ADDRESS": sessionBus])
    }

    private static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    private static func kilobytes(_ text: String, _ field: String) -> Int {
        text.split(separator: "\n").filter { $0.hasPrefix(field) }
            .compactMap { Int($0.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") }.reduce(0, +)
    }

    /// Resident memory, private dirty and private clean pages, kB.
    static func memory(_ pid: pid_t) -> (rss: Int, dirty: Int, clean: Int) {
        let rollup = read("/proc/\(pid)/smaps_rollup")
        return (kilobytes(read("/proc/\(pid)/status"), "VmRSS:"), kilobytes(rollup, "Private_Dirty:"), kilobytes(rollup, "Private_Clean:"))
    }

    /// Context switches (voluntary and not) of each thread by task id.
    static func switches(_ pid: pid_t) -> [String: Int] {
        var counts: [String: Int] = [:]
        for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] {
            let status = read("/proc/\(pid)/task/\(task)/status")
            guard !status.isEmpty else { continue }
            counts[task] = kilobytes(status, "voluntary_ctxt_switches:") + kilobytes(status, "nonvoluntary_ctxt_switches:")
        }
        return counts
    }
}
