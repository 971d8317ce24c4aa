import Synchronization

/// Waits until `condition` holds, checking every few milliseconds; throws after `limit`.
///
/// For tests that watch real processes, files and databases. The limit only guards against a
/// hang: it is never a timing assertion.
public func eventually(
    _ what: String, limit: Duration = .seconds(20), _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: limit)
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw NeverHappened(what: what, limit: limit)
}

/// What a test waited for did not happen.
public struct NeverHappened: Error, CustomStringConvertible {
    public let what: String
    public let limit: Duration
    public var description: String { "never saw \(what) within \(limit)" }
}

/// A counter many tasks add to and a test reads.
public final class Count: Sendable {
    private let count = Mutex(0)

    public init() {}

    public func add() { count.withLock { $0 += 1 } }
    public var value: Int { count.withLock { $0 } }
}
