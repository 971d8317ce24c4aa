import Foundation
import QuiesceTestSupport

/// `make bench`: runs every benchmark, prints one markdown table, and writes it with the machine's
/// description to `docs/benchmarks.md` (or the path after `--output`).
///
/// `--quick` takes fewer samples, for checking that the benchmarks run at all.
@main
struct QuiesceBench {
    /// Never the real system bus: PowerOff is called on the bus we are given.
    static let noRig = "the D-Bus rows need the test rig: run them through make bench, which starts scripts/rig.sh"

    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let quick = arguments.contains("--quick")
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), arguments.index(after: index) < arguments.endIndex else { return nil }
            return arguments[arguments.index(after: index)]
        }
        let output = value("--output") ?? "docs/benchmarks.md"
        let enqueueBaseline = value("--enqueue-baseline") ?? ".build/bench/enqueue_baseline"
        let roundTripBaseline = value("--dbus-baseline") ?? ".build/bench/dbus_roundtrip"
        let environment = ProcessInfo.processInfo.environment

        // `--only idle|enqueue|copy|folder|dbus|logind|agent|startup|scale|footprint` runs one group (or a
        // comma-separated few), to look at it closely.
        let only = value("--only").map { $0.split(separator: ",").map(String.init) }
        func wanted(_ group: String) -> Bool { only == nil || only!.contains(group) }

        var report = Report()
        if wanted("idle") {
            print("measuring idle-to-proceed…")
            report.rows.append(await IdleToProceed.run(iterations: quick ? 50 : 1000, pollingIterations: quick ? 10 : 100))
        }
        if wanted("enqueue") {
            print("measuring durable enqueue…")
            report.rows.append(try StoreBenchmarks.singleEnqueue(baseline: enqueueBaseline, count: quick ? 50 : 300, rounds: quick ? 2 : 5))
            report.rows.append(try StoreBenchmarks.batchEnqueue(baseline: enqueueBaseline, count: 10_000, rounds: quick ? 2 : 25))
        }
        if wanted("copy") {
            print("measuring copy throughput…")
            report.rows.append(try await CopyBenchmark.run(files: 4, megabytes: quick ? 16 : 64, rounds: quick ? 2 : 5))
        }
        if wanted("folder") {
            guard let session = environment["DBUS_SESSION_BUS_ADDRESS"] else { throw BenchmarkError(message: noRig) }
            print("measuring a 100,000-file folder queued…")
            report.rows.append(try await FolderBenchmark.run(sessionBus: session, files: 100_000, rounds: quick ? 2 : 5))
        }
        // The D-Bus rows run on the rig (scripts/rig.sh), which `make bench` starts and stops.
        if wanted("dbus") {
            print("measuring the D-Bus round trip…")
            guard let address = environment["DBUS_SESSION_BUS_ADDRESS"] else { throw BenchmarkError(message: noRig) }
            report.rows.append(try await DBusRoundTrip.run(address: address, baseline: roundTripBaseline, calls: quick ? 200 : 2000, rounds: quick ? 2 : 5))
        }
        if wanted("logind") {
            print("measuring the delay lock's release against logind…")
            guard let rig = environment["QUIESCE_RIG_DIR"], let address = environment["DBUS_SYSTEM_BUS_ADDRESS"], address.contains(rig) else {
                throw BenchmarkError(message: noRig)
            }
            report.rows.append(try await LogindRelease.run(systemAddress: address, cycles: quick ? 20 : 200))
        }
        if wanted("agent") {
            guard let rig = environment["QUIESCE_RIG_DIR"], let session = environment["DBUS_SESSION_BUS_ADDRESS"],
                let system = environment["DBUS_SYSTEM_BUS_ADDRESS"], system.contains(rig)
            else {
                throw BenchmarkError(message: noRig)
            }
            print("measuring the agent: quit to exit, agentctl quit, shutdown and sleep delays…")
            report.rows.append(try await AgentBenchmarks.quitToExit(sessionBus: session, rounds: quick ? 5 : 20))
            report.rows.append(try await AgentBenchmarks.agentctlQuit(sessionBus: session, rounds: quick ? 5 : 40))
            report.rows.append(try await AgentBenchmarks.statusVersusBusctl(
                sessionBus: session, hello: value("--hello-baseline") ?? ".build/bench/hello", rounds: quick ? 10 : 50))
            report.rows.append(try await AgentBenchmarks.systemDelay(sleep: false, sessionBus: session, systemBus: system, cycles: quick ? 10 : 100))
            report.rows.append(try await AgentBenchmarks.systemDelay(sleep: true, sessionBus: session, systemBus: system, cycles: quick ? 10 : 100))
        }
        if wanted("startup") {
            guard let session = environment["DBUS_SESSION_BUS_ADDRESS"] else { throw BenchmarkError(message: noRig) }
            print("measuring start-up with a big queue…")
            report.rows.append(try await StartupBenchmark.run(sessionBus: session, jobs: quick ? 100_000 : 1_000_000, rounds: quick ? 3 : 10))
        }
        if wanted("scale") {
            guard let session = environment["DBUS_SESSION_BUS_ADDRESS"] else { throw BenchmarkError(message: noRig) }
            print("measuring at scale (sessions, jobs, bound clients)…")
            report.rows += try await ScaleBenchmarks.queries(
                sessionBus: session, sessions: quick ? 1_000 : 10_000, jobs: quick ? 10_000 : 1_000_000, calls: quick ? 50 : 200)
            report.rows.append(try await ScaleBenchmarks.boundClientsLeave(
                sessionBus: session, clients: quick ? 100 : 1_000, helper: value("--bound-clients") ?? "bench/bound_clients.py"))
        }
        if wanted("footprint") {
            guard let session = environment["DBUS_SESSION_BUS_ADDRESS"] else { throw BenchmarkError(message: noRig) }
            print("measuring the idle footprint (\(quick ? 10 : 60) s)…")
            report.rows.append(try await IdleFootprint.run(sessionBus: session, window: .seconds(quick ? 10 : 60)))
        }
        try? FileManager.default.removeItem(atPath: FileManager.default.currentDirectoryPath + "/.build/bench-scratch")

        print("")
        print(report.table)
        try report.write(to: output, machine: describeMachine())
        print("\nwritten to \(output)")
        if report.rows.contains(where: { !$0.passed }) {
            print("some rows did not meet their goal")
        }
    }
}
