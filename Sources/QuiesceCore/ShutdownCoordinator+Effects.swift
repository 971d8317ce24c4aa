import Logging

/// The interpreter: each of the machine's effects carried out, and what comes back fed in again.
extension ShutdownCoordinator {
    /// Hands one input to the machine at the clock's now and carries out its effects.
    @discardableResult
    func step(_ input: MachineInput) -> TriggerResponse.Effect? {
        let step = machine.handle(input, at: clock.now)
        for effect in step.effects { perform(effect) }
        // What the effects learned at once (work read without waiting) is the machine's next
        // input, before anything else reaches the actor: a trigger that finds nothing running
        // ends in `stopping` within its own call.
        while !followUps.isEmpty {
            let next = followUps.removeFirst()
            for effect in machine.handle(next, at: clock.now).effects { perform(effect) }
        }
        startTasks()
        return step.response
    }

    /// Starts the timers and the work-following tasks the step asked for and did not take back
    /// before it ended: a quit that finds nothing running arms the window and follows the work,
    /// then stops at once; starting and cancelling those tasks would wake threads for nothing.
    private func startTasks() {
        for (deadline, instant) in toArm {
            timers[deadline] = Task { [clock] in
                do {
                    try await clock.sleep(until: instant, tolerance: nil)
                } catch {
                    return
                }
                self.step(.clock)
            }
        }
        toArm = [:]
        guard let (epoch, subscriptions) = toWatch else { return }
        toWatch = nil
        watching = subscriptions.map { index, changes, known in
            let source = sources[index]
            return Task {
                if !known { self.step(.workChanged(epoch: epoch, source: index, await source.snapshot())) }
                for await snapshot in changes {
                    self.step(.workChanged(epoch: epoch, source: index, snapshot))
                }
            }
        }
    }

    /// An event the interpreter itself has to tell (components, the outcome), described with the
    /// machine's state now.
    func report(_ kind: ShutdownEvent.Kind, because reason: ShutdownReason) {
        publish(machine.event(kind, because: reason, at: clock.now))
    }

    private func perform(_ effect: MachineEffect<C.Instant>) {
        switch effect {
        case .emit(let event):
            publish(event)
        case .log(let level, let message):
            logger.log(level: level, "\(message)")
        case .gates(let admissionOpen, let claimsOpen):
            admission.set(open: admissionOpen)
            if claims.isOpen != claimsOpen { claims.set(open: claimsOpen) }
        case .arm(let deadline, let instant):
            timers.removeValue(forKey: deadline)?.cancel()
            toArm[deadline] = instant
        case .disarm(let deadline):
            timers.removeValue(forKey: deadline)?.cancel()
            toArm[deadline] = nil
        case .watchWork(let epoch):
            for task in watching { task.cancel() }
            watching = []
            toWatch = (epoch, sources.enumerated().map { index, source in
                // Subscribed before the snapshot is read, so no change falls between the two.
                let changes = source.changes()
                let now = source.snapshotNow()
                if let now { followUps.append(.workChanged(epoch: epoch, source: index, now)) }
                return (index, changes, now != nil)
            })
        case .unwatchWork:
            for task in watching { task.cancel() }
            watching = []
            toWatch = nil
        case .takeHold(let kind):
            // A hold handed out while starting (rule 7) is the one its trigger carries out with.
            if holds[kind] == nil || holds[kind]?.release != nil { holds[kind] = SystemHold(kind: kind) }
        case .resolveHold(let kind, let release):
            holds[kind]?.resolve(release)
        case .forgetHold(let kind):
            holds[kind] = nil
        case .showPrompts(let id, let question):
            showPrompts(round: id, question)
        case .updatePrompts(let question):
            for continuation in round?.updates.values.map({ $0 }) ?? [] { continuation.yield(question) }
        case .withdrawPrompts(let indices):
            withdraw(indices)
        case .beginTeardown(let decision):
            self.decision = decision
            stopRequested?.resume()
            stopRequested = nil
        }
    }

    private func publish(_ event: ShutdownEvent) {
        switch event.kind {
        case .componentStarted, .promptUpdated, .triggerIgnored, .workChanged:
            logger.debug("\(event)")
        case .promptUnavailable, .componentStopped(_, .failed), .componentStopped(_, .timedOut):
            logger.warning("\(event)")
        case .componentStopped(_, .hung), .componentStopped(_, .notReached):
            logger.error("\(event)")
        default:
            logger.info("\(event)")
        }
        broadcaster.yield(event)
    }

    private func showPrompts(round id: Int, _ question: PromptQuestion) {
        withdraw(Array(round?.asking.keys ?? [:].keys))
        var asking: [Int: Task<Void, Never>] = [:]
        var updates: [Int: AsyncStream<PromptQuestion>.Continuation] = [:]
        for (index, prompt) in prompts.enumerated() {
            let (stream, continuation) = AsyncStream.makeStream(
                of: PromptQuestion.self, bufferingPolicy: .bufferingNewest(1))
            updates[index] = continuation
            asking[index] = Task {
                let answer = await prompt.ask(question, updates: stream)
                self.promptReturned(round: id, index: index, answer)
            }
        }
        round = (id, asking, updates)
    }

    private func promptReturned(round id: Int, index: Int, _ answer: PromptAnswer) {
        if var current = round, current.id == id {
            current.asking[index] = nil
            current.updates.removeValue(forKey: index)?.finish()
            round = current
        }
        step(.promptAnswered(round: id, prompt: index, answer))
    }

    /// Cancels the prompts still asking; their tasks are kept so teardown can wait (briefly) for
    /// them to close their notifications. The round ends: no prompt gets updates any more.
    private func withdraw(_ indices: [Int]) {
        guard let current = round else { return }
        round = nil
        for continuation in current.updates.values { continuation.finish() }
        for index in indices {
            guard let task = current.asking[index] else { continue }
            task.cancel()
            withdrawing.append(task)
        }
    }
}
