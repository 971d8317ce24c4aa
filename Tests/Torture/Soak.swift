import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport

/// The agent under steady traffic for a long while: sessions opened and closed, copies queued and
/// made, lists and properties read. Its resident memory is sampled at the start (after a warm-up)
/// and at the end: growth beyond noise is a leak.
public struct Soak: Sendable {
    public var duration: Duration
    /// Growth of resident memory that still counts as noise (allocator and SQLite cache settling).
    public static let allowedGrowthKiB = 4 * 1024

    public init(duration: Duration) {
        self.duration = duration
    }

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> Tally {
        var tally = Tally("Load: soak of \(Int(duration.components.seconds)) s under steady traffic, resident memory at start and end")
        let bus = try PrivateBus()
        let harness = try await AgentHarness(busAddress: bus.address, owner: bus)
        let nas = harness.home.file("nas")
        mkdir(nas, 0o755)
        let pool = SourcePool(directory: harness.home.file("sources"), count: 8, seed: 5, largeBytes: 256 << 10)
        let agent = try await harness.start(["--nas-root", nas])
        let client = try await BusConnection.open(address: bus.address, label: "soak client")
        defer { client.close() }
        var ledger = Ledger()
        var random = SplitMix64(seed: 3)
        let clock = ContinuousClock()
        let start = clock.now
        let warmUp = min(Duration.seconds(15), duration / 10)
        var rssAtStart: Int?
        var peak = 0
        var rounds = 0
        var nextLog = start + .seconds(60)
        while clock.now - start < duration {
            rounds += 1
            await tally.attempt { tally in
                let session = try await client.callAgent(.openSession, [.string("soak \(rounds)"), .vardict(["bind": .boolean(rounds % 2 == 0)])])
                if rounds % 25 == 0 {
                    let sources = pool.pick(1, &random)
                    let ids = jobIDs(try await client.callAgent(.enqueue, [.strings(sources), .string("s\(rounds)"), .vardict([:])]))
                    ledger.acknowledged(ids, sources: sources, destination: "s\(rounds)")
                }
                _ = try await client.callAgent(.listJobs, [.vardict(["limit": .uint32(20)])])
                _ = try await client.agentProperty(.activeSessions)
                _ = try await client.callAgent(.closeSession, [session[0]])
            }
            try await Task.sleep(for: .milliseconds(10))
            let rss = residentKiB(agent.pid) ?? 0
            peak = max(peak, rss)
            if rssAtStart == nil, clock.now - start >= warmUp { rssAtStart = rss }
            if clock.now >= nextLog {
                log("soak: \(Int((clock.now - start).components.seconds)) s, \(rounds) rounds, RSS \(rss / 1024) MiB")
                nextLog = nextLog + .seconds(60)
            }
        }
        let rssAtEnd = residentKiB(agent.pid) ?? 0
        try await eventually("the soak's copies done", limit: .seconds(120)) {
            try await harness.queueSettled()
        }
        let quit = try await harness.ctl(["quit"])
        let exit = await agent.exitStatus()
        if quit.status != 0 || exit != 0 { tally.fail("the quit after the soak was not clean: \(quit.error)") }
        let rows = try ledger.check(database: harness.databasePath, nas: nas, tally: &tally, at: "after the soak")
        if rows.contains(where: { $0.state != "done" }) || !ledger.allVerified { tally.fail("not every soak copy completed and matched") }
        let startKiB = rssAtStart ?? 0
        if rssAtEnd - startKiB > Self.allowedGrowthKiB {
            tally.fail("resident memory grew from \(startKiB) KiB to \(rssAtEnd) KiB (more than \(Self.allowedGrowthKiB) KiB)")
        }
        tally.figures = [
            "\(rounds) rounds, \(ledger.jobCount) copies",
            "RSS \(mebibytes(startKiB)) MiB after \(warmUp.components.seconds) s, \(mebibytes(rssAtEnd)) MiB at the end (peak \(mebibytes(peak)) MiB)",
        ]
        return tally
    }
}

/// VmRSS of a process, in KiB.
func residentKiB(_ pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}

func mebibytes(_ kib: Int) -> String {
    String(format: "%.1f", Double(kib) / 1024)
}
