import Logging

/// The prompt (rule 5): every prompt is shown at once, they race, the first answer wins and the
/// rest are withdrawn; Wait grants a fresh window, never past the ceiling (rule 10).
extension ShutdownMachine {
    mutating func answered(round id: Int, prompt index: Int, _ answer: PromptAnswer) {
        guard case .prompting(var prompting) = state, prompting.round.id == id,
            prompting.round.asking.contains(index)
        else { return }
        prompting.round.asking.remove(index)
        update(.prompting(prompting))
        let name = prompts[index]
        let reason = ShutdownReason.answered(answer, by: name)
        switch answer {
        case .unavailable(let why):
            emit(.promptUnavailable(name: name, why: why), because: reason)
            prompting.round.unavailable.insert(index)
            update(.prompting(prompting))
            if prompting.round.unavailable.count == prompts.count {
                log(.warning, "no prompt could ask the user; forcing at the deadline")
                stop(.forced, because: .noPromptAvailable)
            }
        case .force:
            stop(.forced, because: reason)
        case .wait, .dismissed:
            withdrawPrompts(because: reason)
            var deadline = now.advanced(by: prompting.drain.window)
            if let ceiling = prompting.drain.ceiling, ceiling < deadline { deadline = ceiling }
            move(to: .draining(prompting.wait(until: deadline)), because: reason)
        }
    }

    /// Sends the new question to every prompt still asking, when it changed.
    mutating func updatePrompts(_ question: PromptQuestion) {
        guard case .prompting(var prompting) = state, prompting.round.question != question else { return }
        prompting.round.question = question
        update(.prompting(prompting))
        effects.append(.updatePrompts(question))
        emit(.promptUpdated(question), because: .workChanged)
    }

    /// Takes the question down on every prompt still asking, saying why.
    mutating func withdrawPrompts(because reason: ShutdownReason) {
        guard case .prompting(var prompting) = state else { return }
        let asking = prompting.round.asking.sorted()
        prompting.round.asking = []
        update(.prompting(prompting))
        effects.append(.withdrawPrompts(asking))
        if !asking.isEmpty {
            emit(.promptWithdrawn(asking.map { prompts[$0] }), because: reason)
        }
    }
}
