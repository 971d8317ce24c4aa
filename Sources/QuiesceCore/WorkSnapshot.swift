/// What one work source reports at one moment: how much runs and, for the prompt, what it is.
public struct WorkSnapshot: Sendable, Hashable, CustomStringConvertible {
    /// How many units of work are running now. Never negative.
    public var count: Int
    /// Human-readable names of the running units (a session's label, a file being copied).
    ///
    /// May list fewer than `count` items when a source keeps only a sample; the prompt then says
    /// how many more there are.
    public var items: [String]

    public init(count: Int, items: [String] = []) {
        self.count = max(0, count)
        self.items = items
    }

    /// Nothing runs.
    public static let idle = WorkSnapshot(count: 0)

    public var isIdle: Bool { count == 0 }

    public var description: String { "\(count) running" }
}

/// The counts of every work source at one moment, as events and status report them.
public struct WorkCounts: Sendable, Hashable, CustomStringConvertible {
    /// The count of each source by name. A source that has not reported yet is absent.
    public var bySource: [String: Int]

    public init(bySource: [String: Int] = [:]) {
        self.bySource = bySource
    }

    /// The sum over all sources: the idle predicate holds when this is zero.
    public var total: Int { bySource.values.reduce(0, +) }

    public var description: String {
        bySource.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
