import Foundation

/// One row of the benchmark table.
struct Row {
    /// What was measured.
    var what: String
    /// The baseline measured in the same run, with its figures.
    var baseline: String
    /// The goal, in words and figures.
    var goal: String
    /// What was measured: median and, where it matters, p99.
    var measured: String
    var passed: Bool
    /// How to read this row, for docs/benchmarks.md.
    var howToRead: String
}

/// Prints the table and writes it, with the machine's description, to the report file.
struct Report {
    var rows: [Row] = []

    var table: String {
        var lines = [
            "| what | baseline (same run) | goal | measured | result |",
            "|---|---|---|---|---|",
        ]
        for row in rows {
            lines.append("| \(row.what) | \(row.baseline) | \(row.goal) | \(row.measured) | \(row.passed ? "pass" : "FAIL") |")
        }
        return lines.joined(separator: "\n")
    }

    func write(to path: String, machine: String) throws {
        var text = """
            # Benchmarks

            Written by `make bench` on \(ISO8601DateFormatter().string(from: Date())). Every figure is
            measured against a baseline in the same run on the same machine: these machines are shared
            and noisy, so ratios and medians hold where single absolute times do not. Nothing here is a
            test assertion: `make test` never times anything.

            ## Machine

            \(machine)

            ## Results

            \(table)

            ## How to read each row

            """
        for row in rows {
            text += "- **\(row.what)** — \(row.howToRead)\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
