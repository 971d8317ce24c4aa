import Clocks
import QuiesceCore
import Testing

@Suite("Prompting")
struct PromptTests {
    /// Starts a harness with one running session, quits, and lets the window run out.
    private func promptShowing(
        configuration: ShutdownConfiguration = ShutdownConfiguration(),
        prompts: [ScriptedPrompt] = [ScriptedPrompt()]
    ) async throws -> (Harness, WorkCounter, WorkCounter.Token) {
        let sessions = WorkCounter(name: "sessions")
        let harness = try await Harness.start(configuration: configuration, sources: [sessions], prompts: prompts)
        let work = sessions.begin("recording: lab-3")
        await harness.coordinator.trigger(.request())
        await harness.pass(configuration.quitTimeout)
        for prompt in prompts where prompt.asks == 0 {
            try await prompt.waitForAsk(1)
        }
        return (harness, sessions, work)
    }

    @Test("the question lists what still runs")
    func questionListsTheWork() async throws {
        let prompt = ScriptedPrompt()
        let (harness, _, _) = try await promptShowing(prompts: [prompt])
        let asked = prompt.log.items.first
        #expect(asked == .asked(PromptQuestion(count: 1, running: ["recording: lab-3"])))
        #expect(PromptQuestion(count: 3, running: ["a", "b"]).summary == "3 operations still running. Force quit anyway?")
        #expect(PromptQuestion(count: 3, running: ["a", "b"]).body == "a\nb\nand 1 more")
        await harness.coordinator.trigger(.force)
        _ = try await harness.result()
    }

    @Test("work ending while the prompt shows withdraws it and stops cleanly")
    func idleWhilePromptShowsWithdrawsIt() async throws {
        let prompt = ScriptedPrompt()
        let (harness, sessions, work) = try await promptShowing(prompts: [prompt])
        sessions.end(work)
        try await prompt.waitForWithdrawal()
        let result = try await harness.result()
        #expect(result.outcome == .clean)
        #expect(harness.events.items.contains { $0.kind == .promptWithdrawn(["scripted"]) })
    }

    @Test("Force quit stops now and reports the interrupted work: exit 3")
    func forceAnswer() async throws {
        let prompt = ScriptedPrompt()
        let (harness, _, _) = try await promptShowing(prompts: [prompt])
        prompt.answer(.force)
        let result = try await harness.result()
        #expect(result.outcome == .forced(interrupted: [InterruptedWork(source: "sessions", count: 1, items: ["recording: lab-3"])]))
        #expect(result.outcome.exitStatus == 3)
    }

    @Test("Wait, then the work ends within the fresh window: clean")
    func waitThenIdle() async throws {
        let prompt = ScriptedPrompt()
        let (harness, sessions, work) = try await promptShowing(prompts: [prompt])
        prompt.answer(.wait)
        try await harness.waitForEvent("back to draining") { if case .transition(.prompting, .draining) = $0.kind { true } else { false } }
        #expect(await harness.coordinator.status().remaining == .seconds(30))
        await harness.clock.advance(by: .seconds(10))
        sessions.end(work)
        #expect(try await harness.result().outcome == .clean)
        #expect(prompt.asks == 1)
    }

    @Test("Wait, then the fresh window runs out too: the prompt returns (after_wait = reprompt)")
    func waitThenReprompt() async throws {
        let prompt = ScriptedPrompt()
        let (harness, _, _) = try await promptShowing(prompts: [prompt])
        prompt.answer(.wait)
        try await harness.waitForEvent("back to draining") { if case .transition(.prompting, .draining) = $0.kind { true } else { false } }
        await harness.pass(.seconds(30))
        try await prompt.waitForAsk(2)
        prompt.answer(.force)
        #expect(try await harness.result().outcome.exitStatus == 3)
    }

    @Test("after_wait = force: after one Wait the agent forces without asking again")
    func afterWaitForce() async throws {
        let prompt = ScriptedPrompt()
        let (harness, _, _) = try await promptShowing(
            configuration: ShutdownConfiguration(afterWait: .force), prompts: [prompt])
        prompt.answer(.wait)
        try await harness.waitForEvent("back to draining") { if case .transition(.prompting, .draining) = $0.kind { true } else { false } }
        await harness.pass(.seconds(30))
        let result = try await harness.result()
        #expect(result.outcome.exitStatus == 3)
        #expect(prompt.asks == 1)
        #expect(harness.events.items.contains { $0.reason == .afterWaitForce })
    }

    @Test("dismissing the prompt counts as Wait")
    func dismissalCountsAsWait() async throws {
        let prompt = ScriptedPrompt()
        let (harness, sessions, work) = try await promptShowing(prompts: [prompt])
        prompt.answer(.dismissed)
        let back = try await harness.waitForEvent("back to draining") { if case .transition(.prompting, .draining) = $0.kind { true } else { false } }
        #expect(back.reason == .answered(.dismissed, by: "scripted"))
        #expect(back.remaining == .seconds(30))
        await harness.pass(.seconds(30))
        try await prompt.waitForAsk(2)
        sessions.end(work)
        #expect(try await harness.result().outcome == .clean)
    }

    @Test("no prompt can be shown: force at the deadline, logged")
    func noPromptAvailableForcesAtTheDeadline() async throws {
        let unavailable = ScriptedPrompt(name: "notification", immediate: .unavailable("no notification server"))
        let (harness, _, _) = try await promptShowing(prompts: [unavailable])
        let result = try await harness.result()
        #expect(result.outcome.exitStatus == 3)
        #expect(harness.events.items.contains { $0.reason == .noPromptAvailable })
        #expect(harness.events.items.contains { $0.kind == .promptUnavailable(name: "notification", why: "no notification server") })
        #expect(harness.logMessages.contains { $0.contains("no prompt could ask the user") })
    }

    @Test("with no prompt configured at all, the agent forces at the deadline")
    func noPromptConfigured() async throws {
        let sessions = WorkCounter(name: "sessions")
        let harness = try await Harness.start(sources: [sessions])
        sessions.begin("recording")
        await harness.coordinator.trigger(.request(timeout: .seconds(3)))
        await harness.pass(.seconds(3))
        #expect(try await harness.result().outcome.exitStatus == 3)
    }

    @Test("one unavailable prompt does not force while another can still ask")
    func oneUnavailablePromptOfTwo() async throws {
        let unavailable = ScriptedPrompt(name: "notification", immediate: .unavailable("no actions capability"))
        let terminal = ScriptedPrompt(name: "terminal")
        let (harness, sessions, work) = try await promptShowing(prompts: [unavailable, terminal])
        try await harness.waitForEvent("notification unavailable") { if case .promptUnavailable = $0.kind { true } else { false } }
        #expect(await harness.coordinator.phase == .prompting)
        sessions.end(work)
        #expect(try await harness.result().outcome == .clean)
    }

    @Test("prompts race: the first answer wins and the others are withdrawn")
    func firstAnswerWins() async throws {
        let notification = ScriptedPrompt(name: "notification")
        let terminal = ScriptedPrompt(name: "terminal")
        let (harness, _, _) = try await promptShowing(prompts: [notification, terminal])
        terminal.answer(.force)
        try await notification.waitForWithdrawal()
        notification.answer(.wait)
        let result = try await harness.result()
        #expect(result.outcome.exitStatus == 3)
        #expect(harness.events.items.contains { $0.kind == .promptWithdrawn(["notification"]) })
    }

    @Test("the prompt is updated in place as the counts change")
    func promptFollowsTheCounts() async throws {
        let sessions = WorkCounter(name: "sessions")
        let prompt = ScriptedPrompt()
        let harness = try await Harness.start(sources: [sessions], prompts: [prompt])
        let first = sessions.begin("first")
        sessions.begin("second")
        await harness.coordinator.trigger(.request())
        await harness.pass(.seconds(30))
        try await prompt.waitForAsk(1)
        sessions.end(first)
        try await prompt.log.wait(for: "an update") { $0.contains(.updated(PromptQuestion(count: 1, running: ["second"]))) }
        prompt.answer(.force)
        _ = try await harness.result()
    }

    @Test("an external prompt is unavailable with nothing attached, and answers once attached")
    func externalPrompt() async throws {
        let external = ExternalPrompt()
        let (stream, _) = AsyncStream.makeStream(of: PromptQuestion.self)
        let question = PromptQuestion(count: 1, running: ["x"])
        #expect(await external.ask(question, updates: stream) == .unavailable("no terminal is attached"))
        #expect(external.answer(.force) == false)

        external.attach()
        async let answer = external.ask(question, updates: stream)
        while external.currentQuestion == nil { await Task.yield() }
        #expect(external.answer(.wait))
        #expect(await answer == .wait)

        async let orphaned = external.ask(question, updates: stream)
        while external.currentQuestion == nil { await Task.yield() }
        external.detach()
        #expect(await orphaned == .unavailable("the terminal detached"))
    }
}
