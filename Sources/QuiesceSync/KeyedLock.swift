import Synchronization

/// Mutual exclusion by name, for tasks: ``lock(_:)`` waits while another holder has the same key.
/// The worker holds a copy's destination path, so two jobs of the same name into the same
/// directory (two cameras' `IMG_0001.JPG`) never write the same partial file at once.
final class KeyedLock: Sendable {
    private struct State {
        var held: Set<String> = []
        var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())

    func lock(_ key: String) async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.held.insert(key).inserted { return true }
                state.waiting[key, default: []].append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Hands the key to the next waiter, if any (it stays held), or frees it.
    func unlock(_ key: String) {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var queue = state.waiting[key], !queue.isEmpty else {
                state.held.remove(key)
                return nil
            }
            let first = queue.removeFirst()
            state.waiting[key] = queue.isEmpty ? nil : queue
            return first
        }
        next?.resume()
    }
}
