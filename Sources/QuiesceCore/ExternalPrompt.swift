import Synchronization

/// A prompt answered from outside the process: a terminal attached to `agentctl quit` that sends
/// its answer back over D-Bus (`Answer(s decision)`).
///
/// It is available only while something is attached to answer it: with nothing attached it
/// answers ``PromptAnswer/unavailable(_:)`` at once, so a missing terminal never stands in the way
/// of "force at the deadline" when no other prompt can be shown.
public final class ExternalPrompt: Prompt, Sendable {
    private struct State {
        var attached = 0
        var pending: CheckedContinuation<PromptAnswer, Never>?
        var question: PromptQuestion?
    }

    public let name: String
    private let state = Mutex(State())

    public init(name: String = "terminal") {
        self.name = name
    }

    /// Something that can answer is now listening (a terminal running `agentctl quit`).
    public func attach() {
        state.withLock { $0.attached += 1 }
    }

    /// One listener went away. When the last one goes while a question is open, the prompt
    /// answers ``PromptAnswer/unavailable(_:)`` so the other prompts decide alone.
    public func detach() {
        let orphaned: CheckedContinuation<PromptAnswer, Never>? = state.withLock { state in
            state.attached = max(0, state.attached - 1)
            guard state.attached == 0 else { return nil }
            defer { state.pending = nil; state.question = nil }
            return state.pending
        }
        orphaned?.resume(returning: .unavailable("the \(name) detached"))
    }

    /// The question shown now, if any: what an attached terminal should display.
    public var currentQuestion: PromptQuestion? {
        state.withLock { $0.question }
    }

    /// Delivers an answer to the open question.
    /// - Returns: `false` when no question was open, so the caller can tell the answer went
    ///   nowhere.
    @discardableResult
    public func answer(_ answer: PromptAnswer) -> Bool {
        let pending: CheckedContinuation<PromptAnswer, Never>? = state.withLock { state in
            defer { state.pending = nil; state.question = nil }
            return state.pending
        }
        pending?.resume(returning: answer)
        return pending != nil
    }

    public func ask(
        _ question: PromptQuestion, updates: AsyncStream<PromptQuestion>
    ) async -> PromptAnswer {
        let follower = Task {
            for await update in updates {
                self.state.withLock { state in
                    if state.question != nil { state.question = update }
                }
            }
        }
        defer { follower.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let refused: PromptAnswer? = state.withLock { state in
                    guard state.attached > 0 else { return .unavailable("no \(name) is attached") }
                    guard !Task.isCancelled else { return .dismissed }
                    state.pending?.resume(returning: .dismissed)
                    state.pending = continuation
                    state.question = question
                    return nil
                }
                if let refused { continuation.resume(returning: refused) }
            }
        } onCancel: {
            let pending: CheckedContinuation<PromptAnswer, Never>? = state.withLock { state in
                defer { state.pending = nil; state.question = nil }
                return state.pending
            }
            pending?.resume(returning: .dismissed)
        }
    }
}
