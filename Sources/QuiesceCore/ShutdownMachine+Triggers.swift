import Logging

/// Triggers: what each one starts, and what a second one changes (rules 4, 7, 10, 11), and the
/// system's or the desktop's "not after all".
extension ShutdownMachine {
    /// Rule 7: while starting, triggers wait; once stopping, they are too late.
    mutating func receive(_ trigger: Trigger) -> TriggerResponse.Effect {
        switch state {
        case .starting(var starting):
            if let kind = trigger.holdKind { effects.append(.takeHold(kind)) }
            starting.deferred.append(trigger)
            update(.starting(starting))
            log(.info, "deferring \(trigger) until start completes")
            return .deferred
        case .stopping, .stopped, .failed:
            if let kind = trigger.holdKind {
                effects.append(.takeHold(kind))
                effects.append(.resolveHold(kind, .stopping))
            }
            emit(.triggerIgnored, because: .trigger(trigger))
            return .ignored
        case .running, .draining, .prompting:
            return apply(trigger)
        }
    }

    /// A trigger while the agent is up.
    mutating func apply(_ trigger: Trigger) -> TriggerResponse.Effect {
        switch trigger {
        case .force:
            stop(.forced, because: .trigger(trigger))
            return .forced
        case .interrupt, .terminate:
            signals += 1
            guard signals < 2 else {
                log(.notice, "second signal (\(trigger)): forcing")
                stop(.forced, because: .trigger(trigger))
                return .forced
            }
            guard trigger == .terminate else {
                return beginDrain(window: configuration.quitTimeout, trigger: trigger, stopsWhenIdle: true)
            }
            // Rule 10: nobody at the agent asked; the OS will not wait for ever.
            let ceiling = now.advanced(by: configuration.sigtermTimeout + configuration.answerTimeout)
            return beginDrain(
                window: configuration.sigtermTimeout, trigger: trigger, ceiling: (.signal, ceiling), stopsWhenIdle: true)
        case .request(let timeout):
            return beginDrain(window: timeout ?? configuration.quitTimeout, trigger: trigger, stopsWhenIdle: true)
        case .sessionEnding:
            return beginSessionEnd()
        case .systemShutdown(let window):
            return beginSystemHold(.shutdown, window: window)
        case .systemSleep(let window):
            return beginSystemHold(.sleep, window: window)
        }
    }

    /// Starts a drain, or joins the one under way (rule 4): the deadline becomes the earlier of the
    /// two, the ceiling the earlier of the two, and a quit behind either makes idle end the agent.
    /// While the prompt is up the window has already run out: only a ceiling or a quit can join.
    private mutating func beginDrain(
        window: Duration, trigger: Trigger, ceiling: (CeilingSource, Instant)? = nil, stopsWhenIdle: Bool
    ) -> TriggerResponse.Effect {
        var fresh = Drain<Instant>(
            trigger: trigger, window: window, deadline: now.advanced(by: window), stopsWhenIdle: stopsWhenIdle)
        if let (source, instant) = ceiling { fresh.ceilings[source] = instant }
        switch state {
        case .running(let running):
            move(to: .draining(running.drain(fresh)), because: .trigger(trigger))
            return .drainStarted
        case .draining(var draining):
            guard var drain = draining.drain else {
                // Draining only for a system shutdown (or an end of session already answered):
                // now a quit stands behind it too.
                draining.drain = fresh
                update(.draining(draining))
                emit(.deadlineChanged, because: .trigger(trigger))
                return .drainStarted
            }
            let effect = join(fresh, into: &drain, deadlinePassed: false)
            draining.drain = drain
            update(.draining(draining))
            emit(effect == .unchanged ? .triggerIgnored : .deadlineChanged, because: .trigger(trigger))
            return effect
        case .prompting(var prompting):
            let effect = join(fresh, into: &prompting.drain, deadlinePassed: true)
            update(.prompting(prompting))
            emit(effect == .unchanged ? .triggerIgnored : .deadlineChanged, because: .trigger(trigger))
            return effect
        case .starting, .stopping, .stopped, .failed:
            return .ignored
        }
    }

    private func join(_ fresh: Drain<Instant>, into drain: inout Drain<Instant>, deadlinePassed: Bool) -> TriggerResponse.Effect {
        var effect = TriggerResponse.Effect.unchanged
        if !deadlinePassed, fresh.deadline < drain.deadline {
            drain.deadline = fresh.deadline
            drain.window = fresh.window
            drain.trigger = fresh.trigger
            effect = .deadlinePulledIn
        }
        for (source, instant) in fresh.ceilings where drain.ceilings[source].map({ instant < $0 }) ?? true {
            let before = drain.ceiling
            drain.ceilings[source] = instant
            if effect == .unchanged, drain.ceiling != before { effect = .ceilingSet }
        }
        if fresh.stopsWhenIdle, !drain.stopsWhenIdle {
            drain.stopsWhenIdle = true
            if effect == .unchanged { effect = .drainStarted }
        }
        return effect
    }

    /// Rule 11: the desktop ends the session. Drain with the quit window while the desktop is still
    /// up (the prompt can show), bounded by `quit_timeout + answer_timeout` (rule 10); the hold
    /// resolves when the agent may answer the session manager.
    private mutating func beginSessionEnd() -> TriggerResponse.Effect {
        guard var holds = state.holds, holds.sessionEnd == nil else {
            emit(.triggerIgnored, because: .trigger(.sessionEnding))
            return .holding
        }
        effects.append(.takeHold(.sessionEnd))
        holds.sessionEnd = Delay(deadline: nil)
        state.setHolds(holds)
        let window = configuration.quitTimeout
        let ceiling = now.advanced(by: window + configuration.answerTimeout)
        _ = beginDrain(window: window, trigger: .sessionEnding, ceiling: (.sessionEnd, ceiling), stopsWhenIdle: false)
        emit(.holdTaken(.sessionEnd), because: .trigger(.sessionEnding))
        return .holding
    }

    /// logind `PrepareForShutdown(true)`: close admission and claims, wait up to `window` for the
    /// idle predicate, then let go. The agent stays up: systemd's SIGTERM follows.
    ///
    /// logind `PrepareForSleep(true)`: claim nothing new, wait up to `window` for the work that
    /// blocks sleep, then let go. Sessions stay open and admission stays as it was.
    private mutating func beginSystemHold(_ kind: SystemHoldKind, window: Duration) -> TriggerResponse.Effect {
        let trigger: Trigger = kind == .shutdown ? .systemShutdown(window: window) : .systemSleep(window: window)
        guard var holds = state.holds, holds[kind]?.isHeld != true else {
            emit(.triggerIgnored, because: .trigger(trigger))
            return .holding
        }
        effects.append(.takeHold(kind))
        holds[kind] = Delay(deadline: now.advanced(by: window))
        state.setHolds(holds)
        if kind == .shutdown, case .running(let running) = state {
            move(to: .draining(running.drain(nil)), because: .trigger(trigger))
        }
        if kind == .sleep { emit(.claimsPaused, because: .trigger(trigger)) }
        emit(.holdTaken(kind), because: .trigger(trigger))
        return .holding
    }

    /// The system is not going down or to sleep after all, or the desktop cancelled the end of
    /// session. A drain with no quit behind it returns to running; a quit carries on (without the
    /// ceiling the desktop had set).
    mutating func resume(_ kind: SystemHoldKind) {
        if case .starting(var starting) = state {
            let before = starting.deferred.count
            starting.deferred.removeAll { $0.holdKind == kind }
            guard starting.deferred.count != before else { return }
            update(.starting(starting))
            effects.append(.resolveHold(kind, .cancelled))
            effects.append(.forgetHold(kind))
            return
        }
        guard var holds = state.holds, let delay = holds[kind] else { return }
        if delay.isHeld { effects.append(.resolveHold(kind, .cancelled)) }
        effects.append(.forgetHold(kind))
        holds[kind] = nil
        state.setHolds(holds)
        let reason = ShutdownReason.systemResumed(kind)
        switch kind {
        case .sleep:
            emit(.claimsResumed, because: reason)
        case .shutdown:
            if case .draining(let draining) = state, draining.drain == nil, holds.sessionEnd == nil {
                move(to: .running(draining.resume()), because: reason)
            } else {
                emit(.holdReleased(.shutdown, .cancelled), because: reason)
            }
        case .sessionEnd:
            endOfSessionCancelled(holds: holds)
        }
    }

    private mutating func endOfSessionCancelled(holds: Holds<Instant>) {
        let reason = ShutdownReason.systemResumed(.sessionEnd)
        switch state {
        case .draining(var draining):
            if var drain = draining.drain {
                drain.ceilings[.sessionEnd] = nil
                draining.drain = drain.stopsWhenIdle ? drain : nil
            }
            if draining.drain == nil, holds.shutdown == nil {
                move(to: .running(draining.resume()), because: reason)
            } else {
                update(.draining(draining))
                emit(.holdReleased(.sessionEnd, .cancelled), because: reason)
            }
        case .prompting(var prompting):
            guard !prompting.drain.stopsWhenIdle else {
                prompting.drain.ceilings[.sessionEnd] = nil
                update(.prompting(prompting))
                emit(.holdReleased(.sessionEnd, .cancelled), because: reason)
                return
            }
            withdrawPrompts(because: reason)
            move(to: holds.shutdown == nil ? .running(prompting.resume()) : .draining(prompting.settle()), because: reason)
        default:
            break
        }
    }
}

extension Trigger {
    /// The hold this trigger hands out, if any.
    var holdKind: SystemHoldKind? {
        switch self {
        case .systemShutdown: .shutdown
        case .systemSleep: .sleep
        case .sessionEnding: .sessionEnd
        default: nil
        }
    }
}
