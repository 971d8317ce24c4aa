import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport

/// The NAS as a network filesystem (sshfs over sshd on 127.0.0.1), under the agent's feet: the
/// agent SIGKILLed during copies, the server killed and restarted, the server hung during a copy
/// with a force quit on top. After each event the database and the server's disk are checked
/// against what was acknowledged; at the end every job is done and identical on the server.
public struct NetworkNASTorture: Sendable {
    /// Events of each kind.
    public var rounds: Int

    public init(rounds: Int) {
        self.rounds = rounds
    }

    enum Event: CaseIterable {
        case agentKilled, serverRestarted, serverHung
    }

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> Tally {
        var tally = Tally("Network NAS (sshfs): agentd SIGKILLed during copies, the server killed and restarted, the server hung mid-copy with a force quit")
        let nas = try await NetworkNAS()
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let pool = SourcePool(directory: harness.home.file("sources"), count: 20, seed: 31, largeBytes: 24 << 20)
        var ledger = Ledger()
        var agent: PeerProcess? = try await harness.start(["--nas-root", nas.mount])
        var hungExits: [Int] = []
        var batch = 0

        /// Queues the pool into a new folder (while paused, then let go, so copies run when the event strikes).
        func enqueueBatch() async throws {
            batch += 1
            _ = try await harness.call(.pauseSync)
            let ids = try await harness.call(.enqueue, [.strings(pool.files), .string("n\(batch)"), .vardict([:])])
            ledger.acknowledged(jobIDs(ids), sources: pool.files, destination: "n\(batch)")
            _ = try await harness.call(.resumeSync)
        }

        for round in 0..<rounds {
            for event in Event.allCases {
                await tally.attempt { tally in
                    try await enqueueBatch()
                    try await eventually("a copy in flight", limit: .seconds(30)) { try await harness.property(.inFlightJobs) != .uint32(0) }
                    switch event {
                    case .agentKilled:
                        agent?.signal(SIGKILL)
                        _ = await agent?.exitStatus()
                        try ledger.check(database: harness.databasePath, nas: nas.export, tally: &tally, at: "round \(round), after a SIGKILL")
                        agent = try await harness.start(["--nas-root", nas.mount])
                    case .serverRestarted:
                        try await nas.killServer()
                        // The copies may all have ended before the server went: these come after,
                        // so some jobs must wait for it however fast the copies were.
                        try await enqueueBatch()
                        do {
                            try await eventually("jobs waiting for the NAS", limit: .seconds(30)) {
                                let waiting = try await harness.property(.syncWaiting)?.string ?? ""
                                let inFlight = try await harness.property(.inFlightJobs)
                                return waiting.contains("unreachable") && inFlight == .uint32(0)
                            }
                        } catch {
                            let waiting = try await harness.property(.syncWaiting)?.string ?? ""
                            let inFlight = try await harness.property(.inFlightJobs)
                            tally.fail("round \(round): \(error); SyncWaiting \"\(waiting)\", in flight \(String(describing: inFlight)); log: \(harness.log.suffix(3000))")
                        }
                        let counted = (try await harness.call(.listJobs, [.vardict(["limit": .uint32(10_000)])]).first?.array ?? [])
                            .compactMap(\.fields).filter { $0.count == 9 && $0[3].string == "queued" && $0[4].uint32 != 0 }
                        if !counted.isEmpty { tally.fail("round \(round): \(counted.count) jobs counted attempts while the server was gone") }
                        try await nas.restartServer()
                    case .serverHung:
                        try await nas.hang()
                        let forced = ContinuousClock.now
                        _ = try await harness.ctl(["quit", "--force"])
                        let status = await agent?.exitStatus()
                        hungExits.append(Int((ContinuousClock.now - forced).components.seconds * 1000
                            + (ContinuousClock.now - forced).components.attoseconds / 1_000_000_000_000_000))
                        if status != 3 { tally.fail("round \(round): a force quit with the NAS hung exited \(status.map(String.init) ?? "never")") }
                        try ledger.check(database: harness.databasePath, nas: nas.export, tally: &tally, at: "round \(round), after a hang")
                        try await nas.unhang()
                        agent = try await harness.start(["--nas-root", nas.mount])
                    }
                }
            }
        }
        do {
            try await eventually("every copy done", limit: .seconds(300)) {
                let rows = try await harness.call(.listJobs, [.vardict(["limit": .uint32(10_000)])]).first?.array ?? []
                return rows.count == ledger.jobCount && rows.compactMap(\.fields).allSatisfy { $0[3].string == "done" }
            }
        } catch {
            tally.fail("not every job completed: \(error)")
        }
        _ = try await harness.ctl(["quit"])
        if await agent?.exitStatus() != 0 { tally.fail("the last quit was not clean") }
        try ledger.check(database: harness.databasePath, nas: nas.export, tally: &tally, at: "the end")
        if !ledger.allVerified { tally.fail("not every acknowledged job was seen done and identical on the server") }
        let partial = PartialFile.all(under: nas.export)
        if !partial.isEmpty {
            let rows = try DatabaseProbe(path: harness.databasePath).jobs()
            let named = partial.map { file in
                let relative = String(file.path.dropFirst(nas.export.count + 1))
                let job = rows.first { ".\($0.target.split(separator: "/").last ?? "").quiesce-partial" == (relative.split(separator: "/").last.map(String.init) ?? "") && relative.hasPrefix($0.destination + "/") }
                var partialInfo = stat()
                var finalInfo = stat()
                lstat(file.path, &partialInfo)
                let final = file.path.replacingOccurrences(of: "/.", with: "/").replacingOccurrences(of: ".quiesce-partial", with: "")
                lstat(final, &finalInfo)
                return "\(relative) (job \(job.map { "\($0.id) \($0.state)" } ?? "none"); partial inode \(partialInfo.st_ino) size \(partialInfo.st_size) mtime \(partialInfo.st_mtim.tv_sec).\(partialInfo.st_mtim.tv_nsec / 1_000_000), links \(partialInfo.st_nlink); final inode \(finalInfo.st_ino) size \(finalInfo.st_size) mtime \(finalInfo.st_mtim.tv_sec).\(finalInfo.st_mtim.tv_nsec / 1_000_000))"
            }
            try? harness.log.write(toFile: "/tmp/quiesce-network-torture.log", atomically: true, encoding: .utf8)
            tally.fail("partial files left on the server: \(named.joined(separator: ", ")) (the agent's log: /tmp/quiesce-network-torture.log)")
        }
        let hung = hungExits.sorted()
        tally.figures = [
            "\(ledger.jobCount) jobs acknowledged, all done and identical on the server",
            hung.isEmpty ? "" : "with the server hung, force quit → exit 3 in \(hung[0])–\(hung[hung.count - 1]) ms",
        ].filter { !$0.isEmpty }
        return tally
    }
}
