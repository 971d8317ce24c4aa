import Synchronization

/// Collects values from any thread and lets a test wait until they satisfy a condition.
///
/// The wait has a wall-clock guard so a broken build fails instead of hanging; it is never a
/// timing assertion: the protocol's own time comes from the test clock.
final class Recorder<Element: Sendable>: Sendable {
    private struct Waiter {
        let condition: @Sendable ([Element]) -> Bool
        let continuation: CheckedContinuation<[Element], any Error>
    }

    private struct State {
        var items: [Element] = []
        var waiters: [UInt64: Waiter] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(State())

    var items: [Element] { state.withLock { $0.items } }

    func append(_ item: Element) {
        let ready: [(CheckedContinuation<[Element], any Error>, [Element])] = state.withLock { state in
            state.items.append(item)
            var ready: [(CheckedContinuation<[Element], any Error>, [Element])] = []
            for (id, waiter) in state.waiters where waiter.condition(state.items) {
                ready.append((waiter.continuation, state.items))
                state.waiters[id] = nil
            }
            return ready
        }
        for (continuation, items) in ready { continuation.resume(returning: items) }
    }

    /// Returns every item so far once `condition` holds for them.
    @discardableResult
    func wait(
        for what: String, until condition: @escaping @Sendable ([Element]) -> Bool,
        guardTime: Duration = .seconds(20)
    ) async throws -> [Element] {
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        let guardTask = Task {
            try await Task.sleep(for: guardTime)
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: WaitGuardExpired(what: what, items: "\(items)"))
        }
        defer { guardTask.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let now: [Element]? = state.withLock { state in
                if condition(state.items) { return state.items }
                state.waiters[id] = Waiter(condition: condition, continuation: continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}

struct WaitGuardExpired: Error, CustomStringConvertible {
    let what: String
    let items: String
    var description: String { "never saw \(what); recorded: \(items)" }
}
