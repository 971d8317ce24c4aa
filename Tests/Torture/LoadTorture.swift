import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Synchronization

/// Many clients at once, each on its own connection, opening bound sessions, enqueueing and
/// closing, while a quit is requested. A session opened by a call sent after the quit's reply was
/// admitted after the drain began: a failure. Every admitted session must be honoured (the agent
/// waits for it, and its close is accepted), every acknowledged job must be in the database, and
/// the agent must end clean.
public struct LoadTorture: Sendable {
    public var clients: Int
    public var seed: UInt64

    public init(clients: Int, seed: UInt64 = 20_261_123) {
        self.clients = clients
        self.seed = seed
    }

    /// What one client saw.
    struct ClientLog: Sendable {
        var admitted = 0
        var honoured = 0
        var refused = 0
        /// Sessions whose OpenSession was sent after the quit had been answered, yet succeeded.
        var admittedLate = 0
        var acked: [(ids: [UInt64], sources: [String], destination: String)] = []
        var problems: [String] = []
    }

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> Tally {
        var tally = Tally("Load: \(clients) concurrent clients while a quit is requested")
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let nas = harness.home.file("nas")
        mkdir(nas, 0o755)
        let pool = SourcePool(directory: harness.home.file("sources"), count: 8, seed: seed, largeBytes: 64 << 10)
        let agent = try await harness.start(["--nas-root", nas, "--quit-timeout", "60"])
        var connections: [BusConnection] = []
        for index in 0..<clients {
            connections.append(try await BusConnection.open(address: bus.address, label: "load client \(index)"))
        }
        // When the Quit's reply arrived: a call sent after it must find admission closed.
        let quitAnswered = Stamp()
        let quitProblem = Stamp()
        let logs = await withTaskGroup(of: ClientLog?.self) { group in
            for (index, connection) in connections.enumerated() {
                group.addTask {
                    await Self.client(connection, index: index, pool: pool, seed: seed &+ UInt64(index), quitAnswered: quitAnswered)
                }
            }
            group.addTask {
                // Let every client get going, then ask to quit.
                try? await Task.sleep(for: .milliseconds(400))
                do {
                    _ = try await harness.call(.quit, [.vardict([:])])
                    quitAnswered.time.withLock { $0 = .now }
                } catch {
                    quitProblem.problem.withLock { $0 = "Quit: \(error)" }
                }
                return nil
            }
            var logs: [ClientLog] = []
            for await log in group { if let log { logs.append(log) } }
            return logs
        }
        let status = await agent.exitStatus()
        for connection in connections { connection.close() }

        var ledger = Ledger()
        var admitted = 0, honoured = 0, refused = 0, late = 0
        for clientLog in logs {
            await tally.attempt { tally in
                for problem in clientLog.problems { tally.fail(problem) }
                if clientLog.admittedLate > 0 { tally.fail("\(clientLog.admittedLate) sessions admitted after the drain began") }
                if clientLog.honoured != clientLog.admitted {
                    tally.fail("\(clientLog.admitted - clientLog.honoured) admitted sessions not honoured")
                }
            }
            admitted += clientLog.admitted
            honoured += clientLog.honoured
            refused += clientLog.refused
            late += clientLog.admittedLate
            for batch in clientLog.acked { ledger.acknowledged(batch.ids, sources: batch.sources, destination: batch.destination) }
        }
        if let problem = quitProblem.problem.withLock({ $0 }) { tally.fail(problem) }
        if status != 0 { tally.fail("agentd exited \(status), not 0 (clean) \(harness.log.suffix(2000))") }
        try ledger.check(database: harness.databasePath, nas: nas, tally: &tally, at: "after the quit")
        let probe = try DatabaseProbe(path: harness.databasePath)
        let open = try probe.sessions().filter(\.isOpen)
        if !open.isEmpty { tally.fail("\(open.count) sessions still open in the database after a clean quit") }
        tally.figures = [
            "\(admitted) sessions admitted, \(honoured) honoured, \(late) admitted after the drain began",
            "\(refused) opens refused (ShuttingDown, or the agent already gone)",
            "\(ledger.jobCount) jobs acknowledged, all present",
        ]
        return tally
    }

    /// One client: open a bound session, enqueue, hold it a moment, close; until refused.
    private static func client(
        _ connection: BusConnection, index: Int, pool: SourcePool, seed: UInt64, quitAnswered: Stamp
    ) async -> ClientLog {
        var log = ClientLog()
        var random = SplitMix64(seed: seed)
        for round in 0... {
            let sent = ContinuousClock.now
            let id: String
            do throws(DBusError) {
                let reply = try await connection.callAgent(.openSession, [.string("load \(index)"), .vardict([:])])
                guard let opened = reply.first?.string else {
                    log.problems.append("client \(index): OpenSession answered \(reply)")
                    return log
                }
                id = opened
                log.admitted += 1
                if let answered = quitAnswered.time.withLock({ $0 }), sent > answered { log.admittedLate += 1 }
            } catch let error where error.name.rawValue == "io.github.quiesce.Error.ShuttingDown" || error.agentGone {
                // Refused, or the agent has already gone (it released its name): not admitted either way.
                log.refused += 1
                return log
            } catch {
                log.problems.append("client \(index): OpenSession: \(error)")
                return log
            }
            let sources = pool.pick(random.next(in: 1...2), &random)
            let destination = "load/c\(index)/r\(round)"
            do throws(DBusError) {
                let ids = jobIDs(try await connection.callAgent(.enqueue, [.strings(sources), .string(destination), .vardict([:])]))
                log.acked.append((ids, sources, destination))
            } catch let error where error.name.rawValue == "io.github.quiesce.Error.ShuttingDown" {
                // The drain began: a session in hand still must be honoured.
            } catch {
                log.problems.append("client \(index): Enqueue: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(random.next(in: 5...60)))
            do {
                _ = try await connection.callAgent(.closeSession, [.string(id)])
                log.honoured += 1
            } catch {
                log.problems.append("client \(index): CloseSession of an admitted session: \(error)")
                return log
            }
        }
        return log
    }
}

/// A moment (and a problem) shared between the quitting task and the clients.
final class Stamp: Sendable {
    let time = Mutex<ContinuousClock.Instant?>(nil)
    let problem = Mutex<String?>(nil)
}
