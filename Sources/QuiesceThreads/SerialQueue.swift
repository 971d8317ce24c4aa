import Glibc

/// Work run one piece at a time, in order: what a serial `DispatchQueue` gives, without
/// libdispatch (see ``DetachedThread`` for why).
///
/// `sync` runs on the caller's thread when nothing else is running or waiting, as libdispatch
/// does, so a caller that finds the queue free pays no thread hop; otherwise it waits its turn.
/// `async` work runs on the queue's own thread, which sleeps on a condition variable between
/// pieces and makes no wake-ups when there are none.
public final class SerialQueue: @unchecked Sendable {
    // Safe: every stored property below is touched only under `condition`.
    /// The queue's own thread waits on this, for `async` work.
    private let condition = ThreadCondition()
    /// `sync` callers wait on this, for their turn: a turn is handed to its caller by whoever
    /// ends the piece before it, so a busy queue costs a waiting caller one wake-up (not one of
    /// the queue's thread to fetch it, and another to wake it).
    private let turns: ThreadCondition.Companion
    private var pending = FIFO<Piece>()
    /// The thread running a piece of work now, if any.
    private var owner: pthread_t?
    private let label: String
    private var threadStarted = false

    /// What waits in line: work for the queue's thread, or a `sync` caller's turn.
    private enum Piece {
        case work(@Sendable () -> Void)
        case turn(Turn)
    }

    /// A `sync` caller waiting in line; `granted` once the queue is its.
    private final class Turn {
        let thread = pthread_self()
        var granted = false
    }

    public init(label: String) {
        self.label = label
        turns = condition.companion()
    }

    /// Whether the calling thread is running this queue's work now.
    public var isCurrent: Bool {
        condition.locked { owner.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    /// Queues `work` and returns at once.
    public func async(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        pending.append(.work(work))
        let startThread = !threadStarted
        threadStarted = true
        if owner == nil { handOn() }
        condition.unlock()
        if startThread { startWorker() }
    }

    /// Runs `work` in its turn and returns its result. Must not be called from the queue's own
    /// work (check ``isCurrent`` and run it directly there).
    public func sync<T>(_ work: () throws -> T) rethrows -> T {
        condition.lock()
        if owner == nil && pending.isEmpty {
            owner = pthread_self()
        } else {
            // Busy: wait for the turn, then run here (the work stays on the caller's stack).
            let turn = Turn()
            pending.append(.turn(turn))
            if owner == nil { handOn() }
            if !threadStarted {
                // Work is queued before this turn and no thread runs it (none could be started).
                threadStarted = true
                condition.unlock()
                startWorker()
                condition.lock()
            }
            while !turn.granted { turns.wait() }
        }
        condition.unlock()
        defer {
            condition.lock()
            owner = nil
            handOn()
            condition.unlock()
        }
        return try work()
    }

    /// With the queue free (and its lock held): gives it to what is first in line. A caller's
    /// turn is granted here and only the callers are woken; work wakes the queue's thread. With
    /// nothing in line nobody is woken: woken for nothing, the queue's thread would look and sleep
    /// again — two context switches for every `sync` on a free queue (every message the D-Bus
    /// layer sent).
    private func handOn() {
        switch pending.first {
        case nil: return
        case .turn(let turn):
            _ = pending.removeFirst()
            owner = turn.thread
            turn.granted = true
            turns.broadcast()
        case .work: condition.signal()
        }
    }

    private func startWorker() {
        do {
            try DetachedThread.start(name: label) { [self] in loop() }
        } catch {
            // No thread: run what is queued on the next caller's thread instead.
            condition.locked { threadStarted = false }
        }
    }

    private func loop() {
        condition.lock()
        while true {
            guard owner == nil, case .work(let work) = pending.first else {
                condition.wait()
                continue
            }
            _ = pending.removeFirst()
            owner = pthread_self()
            condition.unlock()
            work()
            condition.lock()
            owner = nil
            handOn()
        }
    }
}
