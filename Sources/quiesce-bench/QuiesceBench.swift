import Foundation

/// `make bench`: runs every benchmark, prints one markdown table, and writes it with the machine's
/// description to `docs/benchmarks.md` (or the path after `--output`).
///
/// `--quick` takes fewer samples, for checking that the benchmarks run at all.
@main
struct QuiesceBench {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let quick = arguments.contains("--quick")
        var output = "docs/benchmarks.md"
        if let index = arguments.firstIndex(of: "--output"), arguments.index(after: index) < arguments.endIndex {
            output = arguments[arguments.index(after: index)]
        }

        var report = Report()
        print("measuring idle-to-proceed…")
        report.rows.append(await IdleToProceed.run(iterations: quick ? 50 : 1000, pollingIterations: quick ? 10 : 100))

        print("")
        print(report.table)
        try report.write(to: output, machine: describeMachine())
        print("\nwritten to \(output)")
        if report.rows.contains(where: { !$0.passed }) {
            print("some rows did not meet their goal")
        }
    }
}
