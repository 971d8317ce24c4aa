/// Something whose running work keeps the agent from quitting: open sessions, in-flight copies.
///
/// The coordinator re-evaluates the idle predicate (`every source's count == 0`) on every snapshot a
/// source sends, so the agent proceeds the moment the last work ends rather than at the next poll
/// tick. A source that cannot signal changes is wrapped in ``PollingWorkSource``.
///
/// The coordinator subscribes only while it drains or holds a system delay, so a source costs
/// nothing while the agent simply runs.
public protocol WorkSource: Sendable {
    /// A short name for logs, events and the prompt ("sessions", "sync").
    var name: String { get }

    /// Whether a system sleep should wait for this work (up to the sleep window).
    ///
    /// In-flight copies should finish before the machine freezes; a user's session (a recording, an
    /// experiment) cannot finish in a few seconds and is frozen with the process instead, so it
    /// does not hold up sleep. Defaults to `true`.
    var blocksSleep: Bool { get }

    /// The current state. Called once when a subscription starts, unless ``snapshotNow()``
    /// answers.
    func snapshot() async -> WorkSnapshot

    /// The current state when it can be read without waiting (a count under a lock), else nil.
    ///
    /// Why: the coordinator reads it in the same step that starts a drain, so an agent with
    /// nothing running decides to stop at once, instead of after a task per source has reported
    /// (each a thread hand-off). Defaults to nil: ``snapshot()`` is awaited instead.
    func snapshotNow() -> WorkSnapshot?

    /// A new snapshot for every change, from the moment of the call until the consumer stops
    /// iterating. Sources may coalesce bursts: only the latest snapshot matters.
    func changes() -> AsyncStream<WorkSnapshot>
}

extension WorkSource {
    public var blocksSleep: Bool { true }

    public func snapshotNow() -> WorkSnapshot? { nil }
}
