import Synchronization

/// Wakes the worker's loops when there may be new work: a job was enqueued, the NAS root was set,
/// the agent is stopping. A generation number makes a wake-up that lands between "found no
/// work" and "went to sleep" count: the loop passes the generation it saw, and waiting returns at
/// once if it has moved on.
final class Wakeup: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// Waiters whose timeout fired before they were registered: they must not sleep.
        var due: Set<UInt64> = []
    }

    private let state = Mutex(State())

    var generation: UInt64 { state.withLock { $0.generation } }

    func wake() {
        let waiters = state.withLock { state in
            state.generation += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when the generation moves past `seen`, after `timeout` (if given), or on
    /// cancellation.
    func wait(after seen: UInt64, timeout: Duration?) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = timeout.map { timeout in
            Task {
                try? await Task.sleep(for: timeout)
                self.resume(id)
            }
        }
        defer { timer?.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.generation != seen || Task.isCancelled || state.due.contains(id) { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            resume(id)
        }
        state.withLock { _ = $0.due.remove(id) }
    }

    /// Wakes waiter `id`; one not registered yet is marked due, so it does not go to sleep (its
    /// timer can fire before it has).
    private func resume(_ id: UInt64) {
        let waiter = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.due.insert(id)
                return nil as CheckedContinuation<Void, Never>?
            }
            return waiter
        }
        waiter?.resume()
    }
}
