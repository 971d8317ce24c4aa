import QuiesceTestSupport
import QuiesceTorture
import Testing

/// The reliability suite (`Tests/Torture`), small: `make torture` runs the same scenarios at full
/// size (200 kills, 200 clients, a 10-minute soak) and writes `docs/reliability.md`.
@Suite("agentd under crashes, faults, bad input and load")
struct ReliabilityTests {
    /// A scenario's verdict, with everything it found when it fails.
    private func check(_ tally: Tally) {
        print(tally.summary)
        #expect(tally.lost == 0, "\(tally.summary)")
        #expect(tally.passed, "\(tally.summary)")
    }

    @Test("SIGKILL of agentd under traffic: acknowledged jobs exactly once, copies identical, no partial left, database whole")
    func crashes() async throws {
        check(try await CrashTorture(kills: 8).run())
    }

    @Test("faults: prompt server, logind, session bus, NAS full / read-only / removed, database locked / disk full", .enabled(if: canMount))
    func faults() async throws {
        for tally in try await FaultTorture(rounds: 1).run() { check(tally) }
    }

    @Test("a network NAS (sshfs): agentd SIGKILLed during copies, the server restarted, the server hung with a force quit: nothing lost")
    func networkNAS() async throws {
        check(try await NetworkNASTorture(rounds: 1).run())
    }

    @Test("bad input: named cases, a non-UTF-8 file name, 10,000 random calls")
    func badInput() async throws {
        for tally in try await InputTorture(fuzzCalls: 10_000).run() { check(tally) }
    }

    @Test("security: a useradd user is refused by every method; private files; no shell")
    func security() async throws {
        check(try await SecurityTorture().run())
    }

    @Test("load: 50 clients while a quit is requested: none admitted late, all honoured, nothing lost")
    func load() async throws {
        check(try await LoadTorture(clients: 50).run())
    }
}
