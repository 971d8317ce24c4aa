import Logging

/// The decision after every input (rule 3: event-driven): the ceiling, the holds, idle, the
/// window; and the stop itself.
extension ShutdownMachine {
    /// Decides what the state calls for now. Runs after every input, so the agent proceeds the
    /// moment the last work ends, the moment a deadline passes, the moment an answer comes.
    ///
    /// - Parameter timerFired: the input is a timer: a ceiling it finds passed forces even when a
    ///   source has not reported yet (a stop nobody at the agent asked for is bounded whatever the
    ///   sources do); otherwise a passed ceiling waits for the counts, so an idle agent with a zero
    ///   ceiling still stops cleanly.
    mutating func decide(timerFired: Bool = false) {
        let reported = watch?.allReported == true
        let snapshots = watch?.snapshots.compactMap { $0 } ?? []
        let idle = reported && snapshots.allSatisfy(\.isIdle)
        // Rule 10 before anything else: past the ceiling nothing but idle avoids the force.
        if let ceiling = state.drain?.ceiling, ceiling <= now, !idle, reported || timerFired {
            log(.notice, "no decision by the ceiling (rule 10: the desktop or the system will not wait longer): forcing")
            stop(.forced, because: .ceiling)
            return
        }
        guard reported else { return }
        let sleepIdle = zip(sources, snapshots).allSatisfy { source, snapshot in !source.blocksSleep || snapshot.isIdle }

        if let shutdown = state.holds?.shutdown, shutdown.isHeld, idle || shutdown.deadline.map({ $0 <= now }) == true {
            release(.shutdown, idle ? .idle : .windowElapsed)
        }
        if let sleep = state.holds?.sleep, sleep.isHeld, sleepIdle || sleep.deadline.map({ $0 <= now }) == true {
            release(.sleep, sleepIdle ? .idle : .windowElapsed)
        }

        switch state {
        case .draining(let draining):
            guard let drain = draining.drain else { return }
            if idle {
                drainEnded()
            } else if drain.deadline <= now {
                windowRanOut(draining, drain)
            }
        case .prompting:
            if idle {
                drainEnded()
            } else {
                updatePrompts(question(from: snapshots))
            }
        default:
            break
        }
    }

    /// Idle while draining or prompting: the desktop may go on (rule 11), and a quit ends the agent.
    private mutating func drainEnded() {
        if state.holds?.sessionEnd?.isHeld == true {
            release(.sessionEnd, .idle)
        }
        guard let drain = state.drain, !drain.stopsWhenIdle else {
            stop(.clean, because: .idle)
            return
        }
        // An end of session alone: answered; stay up, admission closed, until Stop or SIGTERM.
        switch state {
        case .draining(var draining):
            draining.drain = nil
            update(.draining(draining))
        case .prompting(let prompting):
            withdrawPrompts(because: .idle)
            move(to: .draining(prompting.settle()), because: .idle)
        default:
            break
        }
    }

    /// The window ran out with work running: ask, or force when asking is not possible or a Wait
    /// already ran out with `after_wait = force`.
    private mutating func windowRanOut(_ draining: Draining<Instant>, _ drain: Drain<Instant>) {
        guard let watch else { return }
        if configuration.afterWait == .force && drain.waits > 0 {
            stop(.forced, because: .afterWaitForce)
        } else if prompts.isEmpty {
            log(.warning, "the window ran out with work running and no prompt is configured: forcing")
            stop(.forced, because: .noPromptAvailable)
        } else {
            let question = question(from: watch.snapshots.compactMap { $0 })
            rounds += 1
            let round = PromptRound(id: rounds, question: question, asking: Set(prompts.indices))
            move(to: .prompting(draining.prompt(drain, round: round)), because: .deadline)
            effects.append(.showPrompts(round: round.id, question))
            emit(.promptShown(question), because: .deadline)
        }
    }

    /// Lets a system transition (or the desktop) go on. The delay stays recorded, released, until
    /// the system resumes.
    mutating func release(_ kind: SystemHoldKind, _ release: HoldRelease) {
        guard var holds = state.holds, var delay = holds[kind], delay.isHeld else { return }
        delay.release = release
        holds[kind] = delay
        state.setHolds(holds)
        effects.append(.resolveHold(kind, release))
        emit(.holdReleased(kind, release), because: release == .idle ? .idle : .deadline)
    }

    /// Moves to `stopping`: withdraws prompts, lets go of every hold, and asks for teardown.
    /// Timers and the subscription go with the state (``reconcile()``).
    mutating func stop(_ decision: StopDecision, because reason: ShutdownReason) {
        let holds = state.holds
        let next: Stopping
        switch state {
        case .running(let running):
            next = running.stop(decision)
        case .draining(let draining):
            next = draining.stop(decision)
        case .prompting(let prompting):
            withdrawPrompts(because: reason)
            next = prompting.stop(decision)
        case .starting, .stopping, .stopped, .failed:
            return
        }
        move(to: .stopping(next), because: reason)
        for kind in holds?.held ?? [] {
            effects.append(.resolveHold(kind, .stopping))
            emit(.holdReleased(kind, .stopping), because: reason)
        }
        effects.append(.beginTeardown(decision))
    }

    /// The question for the prompt, from the latest snapshots.
    func question(from snapshots: [WorkSnapshot]) -> PromptQuestion {
        PromptQuestion(count: snapshots.reduce(0) { $0 + $1.count }, running: snapshots.flatMap(\.items))
    }
}
