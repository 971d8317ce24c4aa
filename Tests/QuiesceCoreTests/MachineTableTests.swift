import Testing
@testable import QuiesceCore

/// The protocol as tables: a sequence of inputs at given seconds → the phases entered, when, and
/// why the agent stopped. The machine alone, no tasks and no clock: each row is the whole story.
@Suite("The machine, as tables")
struct MachineTableTests {
    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var configuration = ShutdownConfiguration()
        var acts: [(Double, MachineScript.Act)]
        var transitions: [String]

        var testDescription: String { name }
    }

    static let quit = MachineScript.Act.input(.trigger(.request()))
    static let sigterm = MachineScript.Act.input(.trigger(.terminate))
    static let sigint = MachineScript.Act.input(.trigger(.interrupt))
    static let busy = MachineScript.Act.work([1])
    static let idle = MachineScript.Act.work([0])
    static let wait = MachineScript.Act.answer(prompt: 0, .wait)
    static let force = MachineScript.Act.answer(prompt: 0, .force)
    static let sessionEnding = MachineScript.Act.input(.trigger(.sessionEnding))
    static let cancelSessionEnd = MachineScript.Act.input(.resume(.sessionEnd))

    static let rule10: [Row] = [
        Row(name: "SIGTERM, work that never ends, a prompt nobody answers: forced at 5 + 15 s",
            acts: [(0, busy), (0, sigterm)],
            transitions: ["0 running", "0 draining", "5 prompting", "20 stopping (no answer by the ceiling (rule 10))"]),
        Row(name: "SIGTERM during a quit's window: the deadline comes in to 5 s, the ceiling 20 s after the SIGTERM",
            acts: [(0, busy), (0, quit), (10, sigterm)],
            transitions: ["0 running", "0 draining", "15 prompting", "30 stopping (no answer by the ceiling (rule 10))"]),
        Row(name: "SIGTERM while a quit's prompt is up is no longer ignored: forced 20 s later",
            acts: [(0, busy), (0, quit), (40, sigterm)],
            transitions: ["0 running", "0 draining", "30 prompting", "60 stopping (no answer by the ceiling (rule 10))"]),
        Row(name: "SIGTERM after a Wait: Wait never reaches past the ceiling",
            acts: [(0, busy), (0, quit), (31, wait), (35, sigterm), (41, wait), (50, wait)],
            transitions: [
                "0 running", "0 draining", "30 prompting", "31 draining", "40 prompting", "41 draining", "46 prompting",
                "50 draining", "55 stopping (no answer by the ceiling (rule 10))",
            ]),
        Row(name: "a second signal still forces at once",
            acts: [(0, busy), (0, sigterm), (1, sigterm)],
            transitions: ["0 running", "0 draining", "1 stopping (SIGTERM)"]),
        Row(name: "SIGINT then SIGTERM: the second signal forces",
            acts: [(0, busy), (0, sigint), (2, sigterm)],
            transitions: ["0 running", "0 draining", "2 stopping (SIGTERM)"]),
        Row(name: "the answer arrives before the ceiling: it counts (Force quit)",
            acts: [(0, busy), (0, sigterm), (12, force)],
            transitions: ["0 running", "0 draining", "5 prompting", "12 stopping (prompt0 answered force)"]),
        Row(name: "work ends before the ceiling: clean",
            acts: [(0, busy), (0, sigterm), (19, idle)],
            transitions: ["0 running", "0 draining", "5 prompting", "19 stopping (idle)"]),
        Row(name: "zero answer timeout: forced at the SIGTERM window without asking",
            configuration: ShutdownConfiguration(answerTimeout: .zero),
            acts: [(0, busy), (0, sigterm)],
            transitions: ["0 running", "0 draining", "5 stopping (no answer by the ceiling (rule 10))"]),
        Row(name: "zero SIGTERM window: asked at once, forced at the answer timeout",
            configuration: ShutdownConfiguration(sigtermTimeout: .zero),
            acts: [(0, busy), (0, sigterm)],
            transitions: ["0 running", "0 draining", "0 prompting", "15 stopping (no answer by the ceiling (rule 10))"]),
        Row(name: "both zero: forced at once while work runs",
            configuration: ShutdownConfiguration(sigtermTimeout: .zero, answerTimeout: .zero),
            acts: [(0, busy), (0, sigterm)],
            transitions: ["0 running", "0 draining", "0 stopping (no answer by the ceiling (rule 10))"]),
        Row(name: "both zero and idle: still clean",
            configuration: ShutdownConfiguration(sigtermTimeout: .zero, answerTimeout: .zero),
            acts: [(0, sigterm)],
            transitions: ["0 running", "0 draining", "0 stopping (idle)"]),
        Row(name: "a quit asked for at the agent keeps no ceiling: the prompt waits for the person",
            acts: [(0, busy), (0, quit)],
            transitions: ["0 running", "0 draining", "30 prompting"]),
        Row(name: "a quit during a SIGTERM drain does not lift the ceiling",
            acts: [(0, busy), (0, sigterm), (1, quit)],
            transitions: ["0 running", "0 draining", "5 prompting", "20 stopping (no answer by the ceiling (rule 10))"]),
    ]

    static let sessionEnd: [Row] = [
        Row(name: "end of session, idle: answered at once, the agent stays up for Stop",
            acts: [(0, sessionEnding)],
            transitions: ["0 running", "0 draining"]),
        Row(name: "end of session, work ends in the window: answered, then Stop (a force with nothing to cut off)",
            acts: [(0, busy), (0, sessionEnding), (10, idle), (11, .input(.trigger(.force)))],
            transitions: ["0 running", "0 draining", "11 stopping (force)"]),
        Row(name: "end of session, work never ends: asked at 30 s, forced at 30 + 15 s",
            acts: [(0, busy), (0, sessionEnding)],
            transitions: ["0 running", "0 draining", "30 prompting", "45 stopping (no answer by the ceiling (rule 10))"]),
        Row(name: "end of session, the last work ends while asking: the question goes, the agent waits for Stop",
            acts: [(0, busy), (0, sessionEnding), (33, idle)],
            transitions: ["0 running", "0 draining", "30 prompting", "33 draining"]),
        Row(name: "end of session cancelled while draining: running again",
            acts: [(0, busy), (0, sessionEnding), (3, cancelSessionEnd)],
            transitions: ["0 running", "0 draining", "3 running"]),
        Row(name: "end of session cancelled while asking: the question goes, running again",
            acts: [(0, busy), (0, sessionEnding), (35, cancelSessionEnd)],
            transitions: ["0 running", "0 draining", "30 prompting", "35 running"]),
        Row(name: "end of session then SIGTERM: the earlier ceiling holds",
            acts: [(0, busy), (0, sessionEnding), (2, sigterm)],
            transitions: ["0 running", "0 draining", "7 prompting", "22 stopping (no answer by the ceiling (rule 10))"]),
        Row(name: "a quit joins an end of session; the desktop cancels: the quit goes on, without the desktop's ceiling",
            acts: [(0, busy), (0, sessionEnding), (1, quit), (2, cancelSessionEnd)],
            transitions: ["0 running", "0 draining", "30 prompting"]),
        Row(name: "a quit joins an end of session; work ends: the agent stops",
            acts: [(0, busy), (0, sessionEnding), (1, quit), (4, idle)],
            transitions: ["0 running", "0 draining", "4 stopping (idle)"]),
    ]

    static let rest: [Row] = [
        Row(name: "quit, idle: clean at once",
            acts: [(0, quit)],
            transitions: ["0 running", "0 draining", "0 stopping (idle)"]),
        Row(name: "quit, Wait, Wait: the prompt returns after each window (reprompt)",
            acts: [(0, busy), (0, quit), (30, wait), (60, wait), (95, force)],
            transitions: ["0 running", "0 draining", "30 prompting", "30 draining", "60 prompting", "60 draining", "90 prompting", "95 stopping (prompt0 answered force)"]),
        Row(name: "after_wait = force: the window after a Wait forces",
            configuration: ShutdownConfiguration(afterWait: .force),
            acts: [(0, busy), (0, quit), (30, wait)],
            transitions: ["0 running", "0 draining", "30 prompting", "30 draining", "60 stopping (window after wait ran out (after_wait = force))"]),
        Row(name: "a shorter quit pulls the deadline in; a longer one changes nothing",
            acts: [(0, busy), (0, quit), (1, .input(.trigger(.request(timeout: .seconds(4))))), (2, .input(.trigger(.request(timeout: .seconds(60)))))],
            transitions: ["0 running", "0 draining", "5 prompting"]),
        Row(name: "a shutdown cancelled with no quit behind it: running again",
            acts: [(0, busy), (0, .input(.trigger(.systemShutdown(window: .seconds(5))))), (2, .input(.resume(.shutdown)))],
            transitions: ["0 running", "0 draining", "2 running"]),
    ]

    @Test("rule 10: a stop nobody at the agent asked for is bounded", arguments: rule10)
    func boundedStops(_ row: Row) {
        let script = MachineScript.run(row.acts, configuration: row.configuration)
        #expect(script.transitions == row.transitions)
    }

    @Test("rule 11: the desktop's end of session", arguments: sessionEnd)
    func endOfSession(_ row: Row) {
        let script = MachineScript.run(row.acts, configuration: row.configuration)
        #expect(script.transitions == row.transitions)
    }

    @Test("rules 4 and 5: re-entrancy, the prompt, the holds", arguments: rest)
    func otherRules(_ row: Row) {
        let script = MachineScript.run(row.acts, configuration: row.configuration)
        #expect(script.transitions == row.transitions)
    }

    @Test("SIGTERM while prompting answers ceilingSet; a second quit while prompting changes nothing")
    func responsesWhilePrompting() {
        var script = MachineScript()
        script.feed(.startCompleted)
        script.perform(Self.busy)
        script.perform(Self.quit)
        script.advance(to: 30)
        #expect(script.phase == .prompting)
        script.perform(Self.quit)
        script.perform(Self.sigterm)
        #expect(script.responses == [.drainStarted, .unchanged, .ceilingSet])
        #expect(script.events.contains { $0.kind == .triggerIgnored && $0.reason == .trigger(.request()) })
    }

    @Test("end of session: the hold resolves idle when work ends, stopping at the ceiling, cancelled when the desktop cancels")
    func sessionEndHold() {
        let idle = MachineScript.run([(0, Self.busy), (0, Self.sessionEnding), (10, Self.idle)])
        #expect(idle.releases(.sessionEnd) == [.idle])
        #expect(idle.gates.admission == false, "admission stays closed until Stop or SIGTERM")
        #expect(idle.responses == [.holding])

        let forced = MachineScript.run([(0, Self.busy), (0, Self.sessionEnding)])
        #expect(forced.releases(.sessionEnd) == [.stopping])
        #expect(forced.teardowns == [.forced])

        let cancelled = MachineScript.run([(0, Self.busy), (0, Self.sessionEnding), (3, Self.cancelSessionEnd)])
        #expect(cancelled.releases(.sessionEnd) == [.cancelled])
        #expect(cancelled.forgotten == [.sessionEnd])
        #expect(cancelled.gates.admission == true, "admission open again")

        let twice = MachineScript.run([(0, Self.busy), (0, Self.sessionEnding), (1, Self.sessionEnding)], until: 2)
        #expect(twice.responses == [.holding, .holding])
        #expect(twice.heldKinds == [.sessionEnd])
    }

    @Test("a Wait is reported as answered, not as idle; the ceiling's force as the ceiling")
    func withdrawalReasons() {
        let script = MachineScript.run([(0, Self.busy), (0, Self.sigterm), (6, Self.wait)], prompts: 2)
        let withdrawals = script.events.filter { if case .promptWithdrawn = $0.kind { true } else { false } }
        #expect(withdrawals.map(\.reason) == [.answered(.wait, by: "prompt0"), .ceiling])
        #expect(withdrawals.map(\.kind) == [.promptWithdrawn(["prompt1"]), .promptWithdrawn(["prompt0", "prompt1"])])
    }

    @Test("timers that fire early, late or twice change nothing: the machine compares instants")
    func staleTimers() {
        var script = MachineScript()
        script.feed(.startCompleted)
        script.perform(Self.busy)
        script.perform(Self.quit)
        script.feed(.clock)
        script.feed(.clock)
        #expect(script.phase == .draining)
        script.advance(to: 30)
        script.feed(.clock)
        #expect(script.phase == .prompting)
        #expect(script.rounds == [1])
    }

    @Test("gates, deadlines and the subscription follow the state and are asked for only on change")
    func reconciliation() {
        var script = MachineScript()
        script.feed(.startCompleted)
        #expect(script.gates.admission && script.gates.claims)
        #expect(script.watches.isEmpty, "a running agent follows no source")
        script.perform(Self.busy)
        script.perform(Self.quit)
        #expect(!script.gates.admission && !script.gates.claims)
        #expect(script.armedDeadlines == [.drain])
        script.perform(Self.quit)
        #expect(script.armedDeadlines == [.drain], "the same deadline is not armed twice")
        script.perform(Self.sigterm)
        #expect(script.armedDeadlines == [.drain, .drain, .ceiling])
        script.perform(Self.idle)
        #expect(script.phase == .stopping)
        #expect(script.disarmedDeadlines.sorted { "\($0)" < "\($1)" } == [.ceiling, .drain])
        #expect(script.effects.contains(.unwatchWork))
    }

    @Test("a trigger while starting is deferred and carried out in order; a shutdown cancelled while starting resolves its hold")
    func deferredWhileStarting() {
        var script = MachineScript()
        script.feed(.trigger(.systemShutdown(window: .seconds(5))))
        script.feed(.trigger(.request()))
        script.feed(.resume(.shutdown))
        #expect(script.responses == [.deferred, .deferred])
        #expect(script.releases(.shutdown) == [.cancelled])
        script.feed(.startCompleted)
        #expect(script.transitions == ["0 running", "0 draining", "0 stopping (idle)"])
    }
}
