import Foundation
import QuiesceTestSupport
import QuiesceTorture

/// `make torture`: the reliability suite at full size against the real `agentd` and `agentctl`.
/// Prints one table of tried / survived / lost and writes it to `docs/reliability.md` (or the
/// path after `--output`). Exits 1 when anything was lost or a check failed.
///
/// `--quick` runs every scenario small (a minute or two), to check that the suite runs at all;
/// `--only crash|faults|network|input|security|load|soak` runs one. The soak runs beside the others, on
/// its own agent and bus, so the whole suite stays within 15 minutes.
@main
struct QuiesceTortureCommand {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let quick = arguments.contains("--quick")
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), arguments.index(after: index) < arguments.endIndex else { return nil }
            return arguments[arguments.index(after: index)]
        }
        let output = value("--output") ?? "docs/reliability.md"
        let only = value("--only")
        func wanted(_ scenario: String) -> Bool { only == nil || only == scenario }
        // Progress lines as they come (unbuffered), also when the output goes to a file or a pipe.
        let log: @Sendable (String) -> Void = { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        let started = ContinuousClock.now

        let soak: Task<Tally, any Error>? =
            wanted("soak")
            ? Task {
                let duration = Duration.seconds(Int(value("--soak-seconds") ?? "") ?? (quick ? 20 : 600))
                log("soak: \(duration.components.seconds) s beside the other scenarios…")
                return try await Soak(duration: duration).run(log: log)
            } : nil

        var tallies: [Tally] = []
        func record(_ tally: Tally) {
            log(tally.summary)
            tallies.append(tally)
        }
        func failed(_ name: String, _ error: any Error) {
            var tally = Tally(name)
            tally.fail("could not run: \(error)")
            record(tally)
        }
        if wanted("crash") {
            let kills = Int(value("--kills") ?? "") ?? (quick ? 10 : 200)
            log("crash: \(kills) SIGKILLs of agentd under traffic…")
            do { record(try await CrashTorture(kills: kills).run(log: log)) } catch { failed("Crash", error) }
        }
        if wanted("faults") {
            log("faults: prompt, logind, session bus, NAS, database…")
            do { for tally in try await FaultTorture(rounds: quick ? 1 : 3).run(log: log) { tallies.append(tally) } } catch { failed("Faults", error) }
        }
        if wanted("network") {
            log("network NAS: SIGKILLs during copies to sshfs, server restarts, server hangs…")
            do { record(try await NetworkNASTorture(rounds: quick ? 1 : 3).run(log: log)) } catch { failed("Network NAS", error) }
        }
        if wanted("input") {
            log("bad input: named cases and random calls…")
            do { for tally in try await InputTorture(fuzzCalls: quick ? 1_000 : 10_000).run(log: log) { record(tally) } } catch { failed("Bad input", error) }
        }
        if wanted("security") {
            log("security: another uid, file modes, no shell…")
            do { record(try await SecurityTorture().run(log: log)) } catch { failed("Security", error) }
        }
        if wanted("load") {
            let clients = quick ? 50 : 200
            log("load: \(clients) clients while a quit is requested…")
            do { record(try await LoadTorture(clients: clients).run(log: log)) } catch { failed("Load", error) }
        }
        if let soak {
            do { record(try await soak.value) } catch { failed("Soak", error) }
        }

        let elapsed = ContinuousClock.now - started
        let report = ReliabilityReport(tallies: tallies, elapsed: elapsed, quick: quick)
        print("")
        print(report.table)
        if only == nil {
            try report.write(to: output)
            print("\nwritten to \(output)")
        }
        if !tallies.allSatisfy(\.passed) {
            print("FAILED: something was lost or a check failed (see above)")
            exit(1)
        }
        print("all survived, 0 lost, in \(elapsed.components.seconds) s")
    }
}
