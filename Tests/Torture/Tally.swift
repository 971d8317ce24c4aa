/// What one scenario of the reliability suite tried, how much of it came through whole, and what
/// was lost. `lost` counts acknowledged things (jobs, sessions, copied files) that did not survive:
/// it must be 0.
public struct Tally: Sendable {
    /// The scenario, as the report names it.
    public let name: String
    /// Attempts (kills, faults, calls, clients).
    public var tried = 0
    /// Attempts after which every check held.
    public var survived = 0
    /// Acknowledged things missing or damaged.
    public var lost = 0
    /// Figures worth reporting ("408 jobs acknowledged").
    public var figures: [String] = []
    /// What failed, first ones only.
    public private(set) var failures: [String] = []

    public init(_ name: String) {
        self.name = name
    }

    public var passed: Bool { tried > 0 && survived == tried && lost == 0 && failures.isEmpty }

    /// Records a failed check (kept to the first 20, counted beyond).
    public mutating func fail(_ what: String) {
        if failures.count < 20 { failures.append(what) } else if failures.count == 20 { failures.append("…and more") }
    }

    /// One attempt: survived when `check` recorded no failure.
    public mutating func attempt(_ check: (inout Tally) async throws -> Void) async {
        tried += 1
        let before = failures.count
        do {
            try await check(&self)
        } catch {
            fail("\(error)")
        }
        if failures.count == before { survived += 1 }
    }

    /// One line for a log.
    public var summary: String {
        "\(name): \(tried) tried, \(survived) survived, \(lost) lost" + (figures.isEmpty ? "" : "; " + figures.joined(separator: "; "))
            + (failures.isEmpty ? "" : "\n  failures:\n  - " + failures.joined(separator: "\n  - "))
    }
}
