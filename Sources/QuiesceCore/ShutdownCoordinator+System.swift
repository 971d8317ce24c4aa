/// System shutdown and sleep: the delay the agent holds while logind waits for it.
extension ShutdownCoordinator {
    /// A delay held for one system transition.
    struct Hold<Instant: InstantProtocol> {
        let handle: SystemHold
        var deadline: Instant
        var deadlinePassed = false
    }

    /// `PrepareForShutdown(true)`: close admission and claims, wait up to `window` for the idle
    /// predicate, then release. The agent stays up: systemd's SIGTERM follows.
    func beginShutdownHold(window: Duration, handle: SystemHold?) -> TriggerResponse {
        let trigger = Trigger.systemShutdown(window: window)
        if let current = shutdownHold, current.handle.release == nil {
            handle?.resolve(.windowElapsed)
            emit(.triggerIgnored, because: .trigger(trigger))
            return response(.holding, hold: current.handle)
        }
        let hold = handle ?? SystemHold(kind: .shutdown)
        let deadline = clock.now.advanced(by: window)
        shutdownHold = Hold(handle: hold, deadline: deadline)
        if case .running(let running) = state {
            move(to: .draining(running.drain(quit: nil)), because: .trigger(trigger))
        }
        emit(.holdTaken(.shutdown), because: .trigger(trigger))
        startWatching()
        arm(.shutdownHold, at: deadline)
        evaluate()
        return response(.holding, hold: hold)
    }

    /// `PrepareForSleep(true)`: claim nothing new, wait up to `window` for the work that blocks
    /// sleep, then release. Sessions stay open and admission stays as it was.
    func beginSleepHold(window: Duration, handle: SystemHold?) -> TriggerResponse {
        let trigger = Trigger.systemSleep(window: window)
        if let current = sleepHold, current.handle.release == nil {
            handle?.resolve(.windowElapsed)
            emit(.triggerIgnored, because: .trigger(trigger))
            return response(.holding, hold: current.handle)
        }
        let hold = handle ?? SystemHold(kind: .sleep)
        let deadline = clock.now.advanced(by: window)
        sleepHold = Hold(handle: hold, deadline: deadline)
        updateGates()
        emit(.claimsPaused, because: .trigger(trigger))
        emit(.holdTaken(.sleep), because: .trigger(trigger))
        startWatching()
        arm(.sleepHold, at: deadline)
        evaluate()
        return response(.holding, hold: hold)
    }

    /// Lets logind go on. The hold stays recorded (released) until the system resumes, so the
    /// agent knows to re-take its lock then.
    func releaseHold(_ kind: SystemHoldKind, _ release: HoldRelease) {
        let hold = kind == .shutdown ? shutdownHold : sleepHold
        guard let hold, hold.handle.release == nil else { return }
        hold.handle.resolve(release)
        disarm(kind == .shutdown ? .shutdownHold : .sleepHold)
        emit(.holdReleased(kind, release), because: release == .idle ? .idle : .deadline)
    }

    func resumeFromShutdown() {
        guard let hold = shutdownHold else { return }
        hold.handle.resolve(.cancelled)
        shutdownHold = nil
        disarm(.shutdownHold)
        if case .draining(let draining) = state, draining.quit == nil {
            move(to: .running(draining.resume()), because: .systemResumed(.shutdown))
        } else {
            emit(.holdReleased(.shutdown, .cancelled), because: .systemResumed(.shutdown))
        }
        stopWatchingIfUnneeded()
    }

    func resumeFromSleep() {
        guard let hold = sleepHold else { return }
        hold.handle.resolve(.cancelled)
        sleepHold = nil
        disarm(.sleepHold)
        updateGates()
        emit(.claimsResumed, because: .systemResumed(.sleep))
        stopWatchingIfUnneeded()
    }
}
