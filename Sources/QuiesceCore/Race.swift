import Synchronization

/// The result of racing an operation against a deadline.
enum RaceResult<T: Sendable>: Sendable {
    case finished(T)
    case timedOut
}

/// Runs `operation` until it finishes or `deadline` passes on `clock`, whichever comes first.
///
/// Unlike a task group, this returns at the deadline even when the operation ignores
/// cancellation: the operation is cancelled and left behind. That is what a hard exit deadline
/// needs: the process exits while the hung component is still "stopping".
func race<C: Clock, T: Sendable>(
    clock: C,
    until deadline: C.Instant,
    _ operation: @escaping @Sendable () async throws -> T
) async -> RaceResult<Result<T, any Error>> where C.Duration == Duration {
    let once = ResumeOnce<RaceResult<Result<T, any Error>>>()
    return await withCheckedContinuation { continuation in
        once.set(continuation)
        let work = Task {
            let value: Result<T, any Error>
            do { value = .success(try await operation()) } catch { value = .failure(error) }
            once.resume(.finished(value))
        }
        let timer = Task {
            do { try await clock.sleep(until: deadline, tolerance: nil) } catch { return }
            if once.resume(.timedOut) { work.cancel() }
        }
        once.onResume { timer.cancel() }
    }
}

/// Resumes a continuation exactly once, whoever gets there first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, Never>?
        var pending: T?
        var done = false
        var onResume: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func set(_ continuation: CheckedContinuation<T, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    func onResume(_ action: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            if state.done { return true }
            state.onResume = action
            return false
        }
        if runNow { action() }
    }

    /// - Returns: whether this call was the one that resumed.
    @discardableResult
    func resume(_ value: T) -> Bool {
        let (continuation, action): (CheckedContinuation<T, Never>?, (@Sendable () -> Void)?) =
            state.withLock { state in
                guard !state.done else { return (nil, nil) }
                state.done = true
                defer { state.continuation = nil; state.onResume = nil }
                return (state.continuation, state.onResume)
            }
        guard let continuation else { return false }
        continuation.resume(returning: value)
        action?()
        return true
    }
}
