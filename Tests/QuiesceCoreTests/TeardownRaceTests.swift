@testable import QuiesceCore
import Testing

/// A part whose stop returns at once, as most of the agent's do at an idle quit.
private struct InstantComponent: Component {
    let name: String
    func start() async throws {}
    func stop() async throws {}
}

@Suite("Teardown races")
struct TeardownRaceTests {
    /// The watchdog read "has every part stopped?" and "which part is stopping?" one after the
    /// other; parts that stop at once could all stop in between, and it then looked up the part
    /// after the last one: an out-of-range trap (agentd ended with SIGILL after a quit, once in
    /// the benchmarks). A crash here ends the whole test run.
    @Test("parts that stop at once, torn down 20,000 times: every stop reported, never a look past the last part")
    func instantStops() async {
        let parts = (0..<4).map { InstantComponent(name: "part \($0)") }
        let expected = parts.reversed().map { ComponentStop(name: $0.name, result: .stopped) }
        for _ in 0..<20_000 {
            let report = await tearDown(parts, clock: ContinuousClock(), stopTimeout: .seconds(30), hardDeadline: .now.advanced(by: .seconds(60))) { _ in }
            guard report.components == expected else {
                Issue.record("teardown reported \(report.components)")
                return
            }
        }
    }
}
