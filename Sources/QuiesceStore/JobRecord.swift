/// Where a sync job is in its life.
public enum JobState: String, Sendable, Hashable, CaseIterable {
    /// Waiting for a worker (or for its retry time).
    case queued
    /// A worker is copying it now. Blocks quitting; comes back to `queued` after a crash or a force.
    case inFlight = "in_flight"
    /// Copied and verified.
    case done
    /// Stopped for good after an error retrying cannot fix (or too many attempts); `sync retry`
    /// queues it again.
    case failed
    /// Cancelled by the user.
    case cancelled
}

/// One file to copy into the NAS root.
public struct JobRecord: Sendable, Hashable {
    public var id: Int64
    /// Absolute path of the local file.
    public var source: String
    /// Directory relative to the NAS root; the file keeps its name.
    public var destination: String
    public var state: JobState
    public var attempts: Int
    public var lastError: String?
    /// Unix milliseconds before which the job is not claimed again.
    public var nextAttemptAt: Int64
    public var enqueuedAt: Int64
    public var updatedAt: Int64
    public var finishedAt: Int64?
    /// Bytes copied, recorded when the copy was verified.
    public var size: Int64?
    /// Checksum of the copied bytes (`xxh64:` and 16 hex digits), recorded when verified.
    public var checksum: String?
    /// The name the copy has on the NAS when it is not the source's (a conflict name).
    public var landedName: String?
    /// How the copy landed: `copied`, `replaced`, `identical`, `kept-both` (done jobs only).
    public var outcome: String?

    /// The file name the copy gets: the source's last path component.
    public var fileName: String {
        String(source.split(separator: "/", omittingEmptySubsequences: true).last ?? "")
    }
}

/// How many jobs are in each state.
public struct JobCounts: Sendable, Hashable {
    public var queued = 0
    public var inFlight = 0
    public var done = 0
    public var failed = 0
    public var cancelled = 0

    public init() {}
}

/// When a failed copy is tried again: exponential backoff with jitter, capped.
public struct RetryPolicy: Sendable {
    /// The delay after the first failure.
    public var base: Duration
    /// No delay grows beyond this.
    public var cap: Duration
    /// After this many attempts a job stops retrying and becomes `failed` (kept; `sync retry`
    /// queues it again).
    public var maxAttempts: Int
    /// Returns a number in 0..<1; injected so tests are deterministic.
    public var random: @Sendable () -> Double

    public init(
        base: Duration = .seconds(2), cap: Duration = .seconds(15 * 60), maxAttempts: Int = 25,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.base = base
        self.cap = cap
        self.maxAttempts = maxAttempts
        self.random = random
    }

    /// The delay after `attempts` failures: `min(cap, base × 2^(attempts−1))`, scaled by a random
    /// factor in [0.5, 1) so many jobs failing together (the NAS went away) do not retry together.
    public func delay(afterAttempts attempts: Int) -> Duration {
        let exponent = max(0, min(attempts - 1, 40))
        let doubled = base * (1 << exponent)
        let capped = doubled > cap || doubled < .zero ? cap : doubled
        return capped * (0.5 + 0.5 * random())
    }
}

extension Duration {
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
