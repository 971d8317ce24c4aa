import Logging

/// Draining: starting a quit, following the work sources, deadlines, and the decision made after
/// every change.
extension ShutdownCoordinator {
    /// The deadlines the coordinator keeps; each has at most one timer.
    enum DeadlineKind: Hashable, Sendable {
        case quit
        case shutdownHold
        case sleepHold
    }

    struct Timer {
        let generation: Int
        let task: Task<Void, Never>
    }

    /// The coordinator's subscription to every work source: one task a source, and the latest
    /// snapshot of each (`nil` until a source has reported).
    struct Watch {
        let epoch: Int
        var snapshots: [WorkSnapshot?]
        var tasks: [Task<Void, Never>]
        var names: [String]

        /// Counts of the sources that have reported.
        var counts: WorkCounts {
            var bySource: [String: Int] = [:]
            for (name, snapshot) in zip(names, snapshots) {
                if let snapshot { bySource[name, default: 0] += snapshot.count }
            }
            return WorkCounts(bySource: bySource)
        }

        var allReported: Bool { snapshots.allSatisfy { $0 != nil } }
    }

    /// Starts a quit drain, or applies re-entrancy to the one under way: the deadline becomes the
    /// earlier of the current one and `now + window`.
    func beginQuit(window: Duration, trigger: Trigger) -> TriggerResponse {
        let deadline = clock.now.advanced(by: window)
        let fresh = QuitDrain(trigger: trigger, window: window, deadline: deadline)
        switch state {
        case .running(let running):
            move(to: .draining(running.drain(quit: fresh)), because: .trigger(trigger))
            startQuitTimer(at: deadline)
            return response(.drainStarted)
        case .draining(var draining):
            guard let quit = draining.quit else {
                // Draining only for a system shutdown; now a quit stands behind it too.
                draining.quit = fresh
                state = .draining(draining)
                emit(.deadlineChanged, because: .trigger(trigger))
                startQuitTimer(at: deadline)
                return response(.drainStarted)
            }
            guard deadline < quit.deadline else {
                emit(.triggerIgnored, because: .trigger(trigger))
                return response(.unchanged)
            }
            draining.quit = QuitDrain(trigger: trigger, window: window, deadline: deadline, waits: quit.waits)
            state = .draining(draining)
            emit(.deadlineChanged, because: .trigger(trigger))
            startQuitTimer(at: deadline)
            return response(.deadlinePulledIn)
        case .prompting:
            // The window has already run out and the user is being asked: nothing to pull in.
            emit(.triggerIgnored, because: .trigger(trigger))
            return response(.unchanged)
        case .starting, .stopping, .stopped, .failed:
            return response(.ignored)
        }
    }

    private func startQuitTimer(at deadline: C.Instant) {
        startWatching()
        arm(.quit, at: deadline)
        evaluate()
    }

    /// Moves to `stopping`: withdraws prompts, cancels timers, lets go of system holds, and wakes
    /// ``run()`` to tear down.
    func stop(_ decision: StopDecision, because reason: ShutdownReason) {
        let next: Stopping
        switch state {
        case .running(let running):
            next = running.stop(decision)
        case .draining(let draining):
            next = draining.stop(decision)
        case .prompting(let prompting):
            withdrawPrompts()
            next = prompting.stop(decision)
        case .starting, .stopping, .stopped, .failed:
            return
        }
        move(to: .stopping(next), because: reason)
        for kind in Array(timers.keys) { disarm(kind) }
        for hold in [shutdownHold, sleepHold].compactMap({ $0 }) where hold.handle.release == nil {
            hold.handle.resolve(.stopping)
            emit(.holdReleased(hold.handle.kind, .stopping), because: reason)
        }
        shutdownHold = nil
        sleepHold = nil
        stopWatching()
        stopRequested?.resume()
        stopRequested = nil
    }

    /// Decides what the latest state calls for. Runs after every change of counts, deadlines,
    /// triggers and answers, which is what makes the protocol event-driven.
    func evaluate() {
        guard let watch, watch.allReported else { return }
        let snapshots = watch.snapshots.compactMap { $0 }
        let idle = snapshots.allSatisfy(\.isIdle)
        let sleepIdle = zip(sources, snapshots).allSatisfy { source, snapshot in
            !source.blocksSleep || snapshot.isIdle
        }
        if let hold = shutdownHold, hold.handle.release == nil, idle || hold.deadlinePassed {
            releaseHold(.shutdown, idle ? .idle : .windowElapsed)
        }
        if let hold = sleepHold, hold.handle.release == nil, sleepIdle || hold.deadlinePassed {
            releaseHold(.sleep, sleepIdle ? .idle : .windowElapsed)
        }
        switch state {
        case .draining(let draining):
            guard let quit = draining.quit else { break }
            if idle {
                stop(.clean, because: .idle)
            } else if quit.deadlinePassed {
                windowRanOut(draining, quit)
            }
        case .prompting:
            if idle {
                stop(.clean, because: .idle)
            } else {
                updatePrompts(question(from: watch))
            }
        default:
            break
        }
        stopWatchingIfUnneeded()
    }

    private func windowRanOut(_ draining: Draining<C.Instant>, _ quit: QuitDrain<C.Instant>) {
        if configuration.afterWait == .force && quit.waits > 0 {
            stop(.forced, because: .afterWaitForce)
        } else if prompts.isEmpty {
            logger.warning("the window ran out with work running and no prompt is configured: forcing")
            stop(.forced, because: .noPromptAvailable)
        } else if let watch {
            move(to: .prompting(draining.prompt(quit)), because: .deadline)
            showPrompts(question(from: watch))
        }
    }

    /// The question for the prompt, from the latest snapshots.
    func question(from watch: Watch) -> PromptQuestion {
        let snapshots = watch.snapshots.compactMap { $0 }
        return PromptQuestion(
            count: snapshots.reduce(0) { $0 + $1.count }, running: snapshots.flatMap(\.items))
    }

    // MARK: Following the work sources

    func startWatching() {
        guard watch == nil else { return }
        watchEpoch += 1
        let epoch = watchEpoch
        let tasks = sources.enumerated().map { index, source in
            Task {
                let changes = source.changes()
                self.workChanged(epoch: epoch, index: index, to: await source.snapshot())
                for await snapshot in changes {
                    self.workChanged(epoch: epoch, index: index, to: snapshot)
                }
            }
        }
        watch = Watch(
            epoch: epoch, snapshots: Array(repeating: nil, count: sources.count), tasks: tasks,
            names: sources.map(\.name))
    }

    func stopWatching() {
        for task in watch?.tasks ?? [] { task.cancel() }
        watch = nil
    }

    /// Subscriptions cost wake-ups: keep them only while a quit or a hold needs the counts.
    func stopWatchingIfUnneeded() {
        let quitActive: Bool
        switch state {
        case .draining(let draining): quitActive = draining.quit != nil
        case .prompting: quitActive = true
        default: quitActive = false
        }
        let holdActive = [shutdownHold, sleepHold].contains { $0 != nil && $0?.handle.release == nil }
        if !quitActive && !holdActive { stopWatching() }
    }

    private func workChanged(epoch: Int, index: Int, to snapshot: WorkSnapshot) {
        guard var current = watch, current.epoch == epoch else { return }
        let changed = current.snapshots[index] != snapshot
        current.snapshots[index] = snapshot
        watch = current
        if changed { emit(.workChanged, because: .workChanged) }
        evaluate()
    }

    // MARK: Deadlines

    /// Sets the deadline of `kind`. A deadline already due counts as passed at once; a test
    /// clock would otherwise wait for an advance even at zero.
    func arm(_ kind: DeadlineKind, at deadline: C.Instant) {
        disarm(kind)
        guard deadline > clock.now else {
            markPassed(kind)
            return
        }
        timerGeneration += 1
        let generation = timerGeneration
        let task = Task { [clock] in
            do {
                try await clock.sleep(until: deadline, tolerance: nil)
            } catch {
                return
            }
            self.deadlineReached(kind, generation: generation)
        }
        timers[kind] = Timer(generation: generation, task: task)
    }

    func disarm(_ kind: DeadlineKind) {
        timers.removeValue(forKey: kind)?.task.cancel()
    }

    private func deadlineReached(_ kind: DeadlineKind, generation: Int) {
        guard timers[kind]?.generation == generation else { return }
        timers[kind] = nil
        markPassed(kind)
        evaluate()
    }

    private func markPassed(_ kind: DeadlineKind) {
        switch kind {
        case .quit:
            if case .draining(var draining) = state, draining.quit != nil {
                draining.quit?.deadlinePassed = true
                state = .draining(draining)
            }
        case .shutdownHold:
            shutdownHold?.deadlinePassed = true
        case .sleepHold:
            sleepHold?.deadlinePassed = true
        }
    }
}
