import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceSpawn

/// The agent with a lot in it: 10,000 sessions and 1,000,000 queued jobs, and 1,000 bound clients
/// leaving at once.
enum ScaleBenchmarks {
    static func queries(sessionBus: String, sessions: Int, jobs: Int, calls: Int) async throws -> [Row] {
        let control = try await BusConnection.open(address: sessionBus, label: "bench control")
        defer { control.close() }
        let agent = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control)
        func send(_ interface: String, _ member: String, _ arguments: [DBusValue]) async throws -> [DBusValue] {
            try await control.call(try DBusMessage.methodCall(
                destination: AgentInterface.busName, path: AgentInterface.path, interface: interface, member: member,
                arguments: arguments), timeout: .seconds(120)).arguments()
        }
        func call(_ method: AgentInterface.Method, _ arguments: [DBusValue] = []) async throws -> [DBusValue] {
            try await send(AgentInterface.interface, method.name, arguments)
        }
        for index in 0..<sessions {
            _ = try await call(.openSession, [.string("session \(index)"), .vardict(["bind": .boolean(false)])])
        }
        // The agent checks each source exists: one real file, queued into many folders (the agent
        // has no NAS root here, so nothing is copied and the queue just grows).
        let source = agent.home + "/img.raw"
        _ = FileManager.default.createFile(atPath: source, contents: Data([1]))
        let batch = 10_000
        for start in stride(from: 0, to: jobs, by: batch) {
            let sources = Array(repeating: source, count: min(jobs, start + batch) - start)
            _ = try await call(.enqueue, [.strings(sources), .string("photos/\(start / batch)"), .vardict([:])])
        }
        func timed(_ count: Int, _ body: () async throws -> Void) async throws -> Samples {
            var samples = Samples()
            let clock = ContinuousClock()
            for _ in 0..<count {
                let start = clock.now
                try await body()
                samples.append(start.duration(to: clock.now))
            }
            return samples
        }
        let status = try await timed(calls) {
            _ = try await send("org.freedesktop.DBus.Properties", "GetAll", [.string(AgentInterface.interface)])
        }
        let allSessions = try await timed(max(5, calls / 20)) {
            let rows = try await call(.listSessions, [.vardict(["limit": .uint32(UInt32(sessions))])]).first?.array?.count
            guard rows == sessions else { throw BenchmarkError(message: "ListSessions lost some") }
        }
        // A GUI's page: 100 sessions after a cursor half-way through.
        let middle = try await call(.listSessions, [.vardict(["limit": .uint32(UInt32(sessions / 2))])]).first?.array?.last?.fields?.first
        guard let middle else { throw BenchmarkError(message: "ListSessions gave no cursor") }
        let sessionPage = try await timed(calls) {
            let rows = try await call(.listSessions, [.vardict(["limit": .uint32(100), "after": middle])]).first?.array?.count
            guard rows == 100 else { throw BenchmarkError(message: "ListSessions gave \(rows ?? 0) of a page of 100") }
        }
        let jobPage = try await timed(calls) {
            let rows = try await call(.listJobs, [.vardict(["limit": .uint32(100), "before": .uint64(UInt64(jobs / 2))])]).first?.array?.count
            guard rows == 100 else { throw BenchmarkError(message: "ListJobs gave \(rows ?? 0) of a page of 100") }
        }
        try await control.quitAgent(force: true)
        _ = await agent.exit()

        let statusGoal = Duration.milliseconds(5)
        let pageGoal = Duration.milliseconds(2)
        let scale = "\(sessions.formatted()) sessions, \(jobs.formatted()) queued jobs"
        return [
            Row(
                what: "`Status` (Properties.GetAll) with \(scale) (n=\(status.count))",
                baseline: "—",
                goal: "≤ \(statusGoal.readable) median",
                measured: "median \(status.median.readable), p99 \(status.p99.readable)",
                passed: status.median <= statusGoal,
                howToRead: """
                    what `agentctl status` waits for when the agent holds a lot: the properties are \
                    answered from memory (the job counts are kept in a table as jobs change, never \
                    counted), so their time does not grow with the queue.
                    """),
            Row(
                what: "A page of 100 of \(sessions.formatted()) open sessions (`ListSessions`, after a cursor) (n=\(sessionPage.count))",
                baseline: "all \(sessions.formatted()) in one call: median \(allSessions.median.readable)",
                goal: "≤ \(pageGoal.readable) median",
                measured: "median \(sessionPage.median.readable), p99 \(sessionPage.p99.readable); a page of 100 of \(jobs.formatted()) jobs (`ListJobs`, before a cursor): median \(jobPage.median.readable)",
                passed: sessionPage.median <= pageGoal && jobPage.median <= pageGoal,
                howToRead: """
                    what a GUI listing the agent's work waits for: both lists are paged (`limit`, at \
                    most 10,000, and a cursor: `after` the last session, `before` the last job of the \
                    page before), and a page reads its rows by rowid from the cursor on, without a sort, \
                    so its time does not grow with the list. The baseline is the whole list in one reply.
                    """),
        ]
    }

    /// 1,000 bound sessions whose clients (one process, 1,000 connections) are killed at once,
    /// while a quit waits for them: from the kill to the agent deciding to stop (its `Outcome`).
    static func boundClientsLeave(sessionBus: String, clients: Int, helper: String) async throws -> Row {
        let control = try await BusConnection.open(address: sessionBus, label: "bench control")
        defer { control.close() }
        let agent = try await AgentProcess(sessionBus: sessionBus, systemBus: nil, control: control)
        let ends = try Spawn.pipe()
        let pid = try spawn("/usr/bin/python3", [helper, sessionBus, "\(clients)"], environment: ["PATH": "/usr/bin:/bin"], output: .descriptor(ends.write), error: .inherit)
        close(ends.write)
        let ready = FileHandle(fileDescriptor: ends.read, closeOnDealloc: true)
        let line: String = await withCheckedContinuation { continuation in
            DispatchQueue(label: "quiesce-bench.clients").async {
                continuation.resume(returning: String(decoding: ready.availableData, as: UTF8.self))
            }
        }
        guard line.hasPrefix("ready") else { throw BenchmarkError(message: "the bound clients did not start: \(line)") }

        // One sequence in bus order: the clients' departures, then the agent's decision.
        let changes = try await control.signals(matchingAny: [
            MatchRule(interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged", path: AgentInterface.path),
            .nameOwnerChanged(),
        ])
        try await control.quitAgent()
        try await Task.sleep(for: .milliseconds(200))
        let clock = ContinuousClock()
        let start = clock.now
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        var departures = 0
        var lastDeparture: ContinuousClock.Instant?
        var decided: Duration?
        for await message in changes {
            guard let arguments = try? message.arguments(), arguments.count == 3 else { continue }
            if message.member == "NameOwnerChanged" {
                if arguments[2].string == "", arguments[0].string?.hasPrefix(":") == true {
                    departures += 1
                    lastDeparture = clock.now
                }
            } else if let outcome = arguments[1].vardict?[AgentInterface.Property.outcome.name]?.string, !outcome.isEmpty {
                guard outcome == "clean" else { throw BenchmarkError(message: "the agent stopped \(outcome), not clean") }
                decided = (lastDeparture ?? start).duration(to: clock.now)
                break
            }
        }
        _ = await agent.exit()
        guard let decided, let lastDeparture else { throw BenchmarkError(message: "the agent never said how it stopped") }
        let busTime = start.duration(to: lastDeparture)
        let goal = Duration.milliseconds(50)
        return Row(
            what: "\(clients.formatted()) bound clients exit at once during a quit",
            baseline: "the bus announcing all \(departures.formatted()) departures after the kill: \(busTime.readable)",
            goal: "drain proceeds ≤ \(goal.readable) after the last one",
            measured: "\(decided.readable) from the last departure to the agent's decision to stop",
            passed: decided <= goal,
            howToRead: """
                one process holds \(clients.formatted()) bus connections, each with a bound session; \
                a quit is waiting for them when the process is killed. The bus tells the agent of \
                each departure (`NameOwnerChanged`); it closes their sessions and proceeds the moment \
                the last one is gone. Measured from the last departure as the bus announced it (to us, in \
                the same sequence as the agent's signal) to the agent announcing `Outcome` clean; the \
                baseline column is how long the kernel and the bus took to announce them all.
                """)
    }
}
