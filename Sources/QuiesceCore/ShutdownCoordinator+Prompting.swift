import Logging

/// Prompting: every prompt is shown at once, they race, the first answer wins and the rest are
/// withdrawn.
extension ShutdownCoordinator {
    /// One showing of the question on every prompt.
    struct PromptRound {
        let id: Int
        var question: PromptQuestion
        /// The prompts still asking, by index into `prompts`.
        var tasks: [Int: Task<Void, Never>]
        var updates: [Int: AsyncStream<PromptQuestion>.Continuation]
        var unavailable: Set<Int> = []
    }

    func showPrompts(_ question: PromptQuestion) {
        promptRounds += 1
        let id = promptRounds
        var tasks: [Int: Task<Void, Never>] = [:]
        var updates: [Int: AsyncStream<PromptQuestion>.Continuation] = [:]
        for (index, prompt) in prompts.enumerated() {
            let (stream, continuation) = AsyncStream.makeStream(
                of: PromptQuestion.self, bufferingPolicy: .bufferingNewest(1))
            updates[index] = continuation
            tasks[index] = Task {
                let answer = await prompt.ask(question, updates: stream)
                self.promptAnswered(round: id, index: index, answer: answer)
            }
        }
        promptRound = PromptRound(id: id, question: question, tasks: tasks, updates: updates)
        emit(.promptShown(question), because: .deadline)
    }

    /// Sends the new question to every prompt still asking, when it changed.
    func updatePrompts(_ question: PromptQuestion) {
        guard var round = promptRound, round.question != question else { return }
        round.question = question
        promptRound = round
        for continuation in round.updates.values { continuation.yield(question) }
        emit(.promptUpdated(question), because: .workChanged)
    }

    /// Takes the question down on every prompt still asking. Their tasks are kept so teardown can
    /// wait (briefly) for them to close their notifications.
    func withdrawPrompts() {
        guard let round = promptRound else { return }
        promptRound = nil
        for continuation in round.updates.values { continuation.finish() }
        let asking = round.tasks.keys.sorted()
        for index in asking {
            guard let task = round.tasks[index] else { continue }
            task.cancel()
            withdrawing.append(task)
        }
        if !asking.isEmpty {
            emit(.promptWithdrawn(asking.map { prompts[$0].name }), because: .idle)
        }
    }

    private func promptAnswered(round id: Int, index: Int, answer: PromptAnswer) {
        guard var round = promptRound, round.id == id, case .prompting(let prompting) = state else {
            return
        }
        round.tasks[index] = nil
        round.updates.removeValue(forKey: index)?.finish()
        let name = prompts[index].name
        let reason = ShutdownReason.answered(answer, by: name)
        switch answer {
        case .unavailable(let why):
            emit(.promptUnavailable(name: name, why: why), because: reason)
            round.unavailable.insert(index)
            promptRound = round
            if round.unavailable.count == prompts.count {
                logger.warning("no prompt could ask the user; forcing at the deadline")
                stop(.forced, because: .noPromptAvailable)
            }
        case .force:
            promptRound = round
            withdrawPrompts()
            stop(.forced, because: reason)
        case .wait, .dismissed:
            promptRound = round
            withdrawPrompts()
            let deadline = clock.now.advanced(by: prompting.quit.window)
            move(to: .draining(prompting.wait(deadline: deadline)), because: reason)
            arm(.quit, at: deadline)
            evaluate()
        }
    }
}
