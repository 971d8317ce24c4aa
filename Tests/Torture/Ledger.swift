import Foundation
import QuiesceTestSupport

/// What the agent acknowledged, and what its database and NAS directory must therefore hold.
///
/// A call whose reply was lost with the agent (killed mid-call) is *uncertain*: its rows may exist,
/// once, or not at all; once seen in the database they count as acknowledged, since a commit is
/// for good.
struct Ledger {
    struct Job: Hashable {
        let source: String
        let destination: String
    }

    private(set) var jobs: [UInt64: Job] = [:]
    /// Destinations of `Enqueue` calls whose outcome is unknown (each batch has its own).
    var uncertainDestinations: Set<String> = []
    /// Jobs whose copy was found done and byte-identical (checked once).
    private var verified: Set<UInt64> = []
    /// Unbound sessions acknowledged open and not closed since: they must outlive any crash.
    var unboundOpen: Set<String> = []
    /// Bound sessions of an instance that has died: its successor must have closed them.
    var boundOfDeadInstance: Set<String> = []

    mutating func acknowledged(_ ids: [UInt64], sources: [String], destination: String) {
        for (id, source) in zip(ids, sources) { jobs[id] = Job(source: source, destination: destination) }
    }

    var jobCount: Int { jobs.count }

    /// Compares the database and the NAS directory with what was acknowledged; records each
    /// discrepancy in `tally` (and counts what was lost). Returns the rows, for figures.
    @discardableResult
    mutating func check(database path: String, nas: String, tally: inout Tally, at moment: String) throws -> [DatabaseProbe.Job] {
        let probe = try DatabaseProbe(path: path)
        let integrity = try probe.integrity()
        if integrity != "ok" { tally.fail("\(moment): integrity_check says \(integrity)") }
        let rows = try probe.jobs()
        var byID: [UInt64: DatabaseProbe.Job] = [:]
        var byTarget: [String: UInt64] = [:]
        for row in rows {
            byID[row.id] = row
            if let other = byTarget.updateValue(row.id, forKey: row.target) {
                tally.fail("\(moment): jobs \(other) and \(row.id) both copy to \(row.target)")
            }
            if jobs[row.id] == nil {
                if uncertainDestinations.contains(row.destination) {
                    jobs[row.id] = Job(source: row.source, destination: row.destination)
                } else {
                    tally.fail("\(moment): job \(row.id) (\(row.target)) in the database that no call asked for")
                }
            }
        }
        // Calls whose rows are not there now never committed: the agent that took them is gone.
        uncertainDestinations.removeAll()
        for (id, job) in jobs.sorted(by: { $0.key < $1.key }) {
            guard let row = byID[id] else {
                tally.lost += 1
                tally.fail("\(moment): acknowledged job \(id) (\(job.destination)) is missing")
                continue
            }
            if row.source != job.source || row.destination != job.destination {
                tally.lost += 1
                tally.fail("\(moment): job \(id) changed: \(row.source) → \(row.destination)")
            } else if row.state == "done" && !verified.contains(id) {
                if sameContents(job.source, "\(nas)/\(row.target)") {
                    verified.insert(id)
                } else {
                    tally.lost += 1
                    tally.fail("\(moment): job \(id) is done but \(row.target) differs from its source")
                }
            }
        }
        let sessions = Dictionary(try probe.sessions().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for id in unboundOpen.sorted() where sessions[id]?.isOpen != true {
            tally.lost += 1
            tally.fail("\(moment): unbound session \(id) was closed or lost (\(sessions[id]?.closeReason ?? "no row"))")
        }
        for id in boundOfDeadInstance.sorted() where sessions[id]?.closeReason != "abandoned" {
            tally.fail("\(moment): bound session \(id) of a dead instance is \(sessions[id]?.closeReason ?? "open")")
        }
        return rows
    }

    /// Whether every acknowledged job has been seen done and identical.
    var allVerified: Bool { verified.count == jobs.count }
}
