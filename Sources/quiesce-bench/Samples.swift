/// A set of timings from repeated runs, with the order statistics the report uses.
///
/// Medians and high percentiles, never means: these machines are shared and noisy, and one
/// descheduled run should not move the headline figure.
struct Samples {
    private(set) var values: [Duration] = []

    mutating func append(_ value: Duration) {
        values.append(value)
    }

    var count: Int { values.count }

    /// The value below which `fraction` of the samples fall (nearest rank).
    func percentile(_ fraction: Double) -> Duration {
        precondition(!values.isEmpty, "no samples")
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    var median: Duration { percentile(0.5) }
    var p99: Duration { percentile(0.99) }
}

extension Duration {
    /// Milliseconds as a plain number, for tables.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    /// "0.042 ms", "104 ms": three significant figures are plenty for a noisy machine.
    var readable: String {
        let ms = milliseconds
        if ms >= 100 { return "\(Int(ms.rounded())) ms" }
        if ms >= 10 { return "\((ms * 10).rounded() / 10) ms" }
        if ms >= 1 { return "\((ms * 100).rounded() / 100) ms" }
        return "\((ms * 1000).rounded() / 1000) ms"
    }
}
