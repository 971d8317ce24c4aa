import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport

/// Real `SIGKILL`s of `agentd` while clients enqueue batches, open and close sessions, and the
/// worker copies. After every kill, with the agent down: `integrity_check` is ok, every
/// acknowledged job is there exactly once, every done job's file matches its source, unbound
/// sessions are still open. After every restart: no partial file of the dead instance is left,
/// and its bound sessions are closed as abandoned. At the end the queue drains completely.
public struct CrashTorture: Sendable {
    public var kills: Int
    public var seed: UInt64

    public init(kills: Int, seed: UInt64 = 20_261_122) {
        self.kills = kills
        self.seed = seed
    }

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> Tally {
        var tally = Tally("Crash: SIGKILL of agentd during enqueue, sync and session traffic")
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let nas = harness.home.file("nas")
        mkdir(nas, 0o755)
        let pool = SourcePool(directory: harness.home.file("sources"), count: 40, seed: seed)
        let arguments = ["--nas-root", nas, "--sync-concurrency", "2"]
        var ledger = Ledger()
        var random = SplitMix64(seed: seed)
        var leftovers: [PartialFile] = []
        var withCopies = 0, sessionsOpened = 0

        for kill in 1...kills {
            let span = Duration.milliseconds(random.next(in: 20...400))
            let trafficSeed = random.next()
            await tally.attempt { tally in
                let moment = "kill \(kill)"
                let agent = try await harness.start(arguments)
                for file in leftovers where file.stillThere { tally.fail("\(moment): \(file.path) left behind after the restart") }
                let client = try await BusConnection.open(address: bus.address, label: "torture client")
                agent.signal(SIGKILL, after: span)
                let traffic = await Traffic.run(
                    control: harness.control, client: client, pool: pool, round: kill, seed: trafficSeed, unboundOpen: ledger.unboundOpen)
                let status = await agent.exitStatus()
                client.close()
                if status != 128 + SIGKILL { tally.fail("\(moment): agentd exited with \(status) before it was killed") }
                for problem in traffic.unexpected { tally.fail("\(moment): \(problem)") }
                for batch in traffic.acked { ledger.acknowledged(batch.ids, sources: batch.sources, destination: batch.destination) }
                ledger.uncertainDestinations = traffic.uncertainDestinations
                ledger.unboundOpen.formUnion(traffic.openedUnbound)
                ledger.unboundOpen.subtract(traffic.closedUnbound)
                ledger.unboundOpen.subtract(traffic.uncertainClose)
                sessionsOpened += traffic.openedUnbound.count + traffic.openedBound.count
                let rows = try ledger.check(database: harness.databasePath, nas: nas, tally: &tally, at: moment)
                if rows.contains(where: { $0.state == "in_flight" }) { withCopies += 1 }
                ledger.boundOfDeadInstance = Set(traffic.openedBound)
                leftovers = PartialFile.all(under: nas)
            }
            if kill % 25 == 0 { log("crash: \(kill) kills, \(ledger.jobCount) jobs acknowledged, \(tally.failures.count) failures") }
        }

        // The end: one more start; the queue must drain completely, every session acknowledged
        // open must still be there to close, and nothing partial may remain anywhere.
        let agent = try await harness.start(arguments)
        for file in leftovers where file.stillThere { tally.fail("final start: \(file.path) left behind") }
        try await eventually("the queue drained", limit: .seconds(300)) {
            try await harness.queueSettled()
        }
        // Every session still open: the acknowledged unbound ones must be among them; the others
        // are opens whose reply died with an agent (their ids were never known).
        let open = Set((try await harness.call(.listSessions, [.vardict([:])]).first?.array ?? []).compactMap { $0.fields?.first?.string })
        for id in ledger.unboundOpen.sorted() where !open.contains(id) {
            tally.lost += 1
            tally.fail("final: unbound session \(id) is not open")
        }
        for id in open.sorted() {
            do {
                _ = try await harness.call(.closeSession, [.string(id)])
            } catch {
                tally.fail("final: session \(id) could not be closed: \(error)")
            }
        }
        ledger.unboundOpen.removeAll()
        let quit = try await harness.ctl(["quit"])
        if quit.status != 0 { tally.fail("final quit: agentctl exited \(quit.status): \(quit.error)") }
        let status = await agent.exitStatus()
        if status != 0 { tally.fail("final quit: agentd exited \(status)") }
        let rows = try ledger.check(database: harness.databasePath, nas: nas, tally: &tally, at: "final")
        let notDone = rows.filter { $0.state != "done" }
        if !notDone.isEmpty { tally.fail("final: \(notDone.count) jobs not done, first \(notDone[0].id) \(notDone[0].state)") }
        if !ledger.allVerified { tally.fail("final: not every acknowledged job was seen copied and identical") }
        let partials = PartialFile.all(under: nas)
        if !partials.isEmpty { tally.fail("final: \(partials.count) partial files left, first \(partials[0].path)") }

        tally.figures = [
            "\(withCopies) kills with copies in flight",
            "\(ledger.jobCount) jobs acknowledged, all copied and byte-identical at the end",
            "\(sessionsOpened) sessions opened",
        ]
        return tally
    }
}

/// One round of client traffic against a live agent, until the agent is gone: batches of
/// `Enqueue` on one connection; sessions opened (bound and unbound) and closed on another.
struct Traffic: Sendable {
    struct Batch: Sendable {
        let ids: [UInt64]
        let sources: [String]
        let destination: String
    }

    var acked: [Batch] = []
    var uncertainDestinations: Set<String> = []
    var openedUnbound: [String] = []
    var openedBound: [String] = []
    var closedUnbound: [String] = []
    var uncertainClose: [String] = []
    /// Replies that were neither a success nor the agent being gone.
    var unexpected: [String] = []

    static func run(
        control: BusConnection, client: BusConnection, pool: SourcePool, round: Int, seed: UInt64, unboundOpen: Set<String>
    ) async -> Traffic {
        async let enqueued = enqueue(control, pool: pool, round: round, seed: seed)
        async let sessions = sessions(control, client: client, round: round, seed: seed &+ 1, unboundOpen: unboundOpen)
        var result = await enqueued
        let other = await sessions
        result.openedUnbound = other.openedUnbound
        result.openedBound = other.openedBound
        result.closedUnbound = other.closedUnbound
        result.uncertainClose = other.uncertainClose
        result.unexpected += other.unexpected
        return result
    }

    private static func enqueue(_ connection: BusConnection, pool: SourcePool, round: Int, seed: UInt64) async -> Traffic {
        var result = Traffic()
        var random = SplitMix64(seed: seed)
        for batch in 0... {
            let sources = pool.pick(random.next(in: 1...4), &random)
            let destination = "r\(round)/b\(batch)"
            do throws(DBusError) {
                let ids = jobIDs(try await connection.callAgent(.enqueue, [.strings(sources), .string(destination), .vardict([:])]))
                if ids.count != sources.count { result.unexpected.append("Enqueue of \(sources.count) files answered \(ids.count) ids") }
                result.acked.append(Batch(ids: ids, sources: sources, destination: destination))
            } catch let error where error.agentGone {
                result.uncertainDestinations.insert(destination)
                return result
            } catch {
                result.unexpected.append("Enqueue: \(error)")
                return result
            }
            try? await Task.sleep(for: .milliseconds(random.next(in: 2...30)))
        }
        return result
    }

    private static func sessions(
        _ connection: BusConnection, client: BusConnection, round: Int, seed: UInt64, unboundOpen: Set<String>
    ) async -> Traffic {
        var result = Traffic()
        var random = SplitMix64(seed: seed)
        var open = Array(unboundOpen).sorted()
        while true {
            let choice = random.next() % 3
            do throws(DBusError) {
                switch choice {
                case 0:
                    let reply = try await connection.callAgent(.openSession, [.string("torture \(round)"), .vardict(["bind": .boolean(false)])])
                    guard let id = reply.first?.string else { throw DBusError(name: .failed, message: "OpenSession answered \(reply)") }
                    result.openedUnbound.append(id)
                    open.append(id)
                case 1:
                    let reply = try await client.callAgent(.openSession, [.string("torture \(round) bound"), .vardict([:])])
                    guard let id = reply.first?.string else { throw DBusError(name: .failed, message: "OpenSession answered \(reply)") }
                    result.openedBound.append(id)
                default:
                    guard !open.isEmpty else { break }
                    let id = open.remove(at: Int(random.next() % UInt64(open.count)))
                    do throws(DBusError) {
                        _ = try await connection.callAgent(.closeSession, [.string(id)])
                        result.closedUnbound.append(id)
                    } catch let error where error.agentGone {
                        result.uncertainClose.append(id)
                        throw error
                    }
                }
            } catch let error where error.agentGone {
                return result
            } catch {
                result.unexpected.append("sessions: \(error)")
                return result
            }
            try? await Task.sleep(for: .milliseconds(random.next(in: 2...30)))
        }
    }
}
