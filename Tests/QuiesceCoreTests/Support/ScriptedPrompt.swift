import QuiesceCore
import Synchronization

/// A prompt a test answers by hand. It records what it was asked, every update, and withdrawals.
final class ScriptedPrompt: Prompt, Sendable {
    enum Entry: Sendable, Equatable {
        case asked(PromptQuestion)
        case updated(PromptQuestion)
        case answered(PromptAnswer)
        case withdrawn
    }

    private struct State {
        var pending: CheckedContinuation<PromptAnswer, Never>?
        var queued: [PromptAnswer] = []
    }

    let name: String
    let log = Recorder<Entry>()
    private let immediate: PromptAnswer?
    private let state = Mutex(State())

    /// - Parameter immediate: when set, every ask is answered with it at once (an unavailable
    ///   server, say).
    init(name: String = "scripted", immediate: PromptAnswer? = nil) {
        self.name = name
        self.immediate = immediate
    }

    /// Answers the open question, or the next one if none is open yet.
    func answer(_ answer: PromptAnswer) {
        let pending = state.withLock { state in
            guard let pending = state.pending else {
                state.queued.append(answer)
                return nil as CheckedContinuation<PromptAnswer, Never>?
            }
            state.pending = nil
            return pending
        }
        pending?.resume(returning: answer)
    }

    var asks: Int {
        log.items.filter { if case .asked = $0 { true } else { false } }.count
    }

    var withdrawals: Int {
        log.items.filter { $0 == .withdrawn }.count
    }

    func waitForAsk(_ number: Int) async throws {
        try await log.wait(for: "ask #\(number) on \(name)") { entries in
            entries.filter { if case .asked = $0 { true } else { false } }.count >= number
        }
    }

    func waitForWithdrawal() async throws {
        try await log.wait(for: "withdrawal of \(name)") { $0.contains(.withdrawn) }
    }

    func ask(_ question: PromptQuestion, updates: AsyncStream<PromptQuestion>) async -> PromptAnswer {
        log.append(.asked(question))
        if let immediate { return immediate }
        let follower = Task {
            for await update in updates { self.log.append(.updated(update)) }
        }
        defer { follower.cancel() }
        let answer = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready: PromptAnswer? = state.withLock { state in
                    if !state.queued.isEmpty { return state.queued.removeFirst() }
                    state.pending = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let pending = state.withLock { state in
                defer { state.pending = nil }
                return state.pending
            }
            pending?.resume(returning: .dismissed)
        }
        if Task.isCancelled {
            log.append(.withdrawn)
        } else {
            log.append(.answered(answer))
        }
        return answer
    }
}
