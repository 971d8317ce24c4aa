import Logging
public import QuiesceCore
import QuiesceDBus
import QuiesceStore
import Synchronization

/// The delay lock and what logind announces, joined to the coordinator: `PrepareForShutdown(true)`
/// and `PrepareForSleep(true)` become system triggers whose hold, once released, lets us close our
/// inhibitor fd; `(false)` resumes and re-takes the lock.
///
/// Without a system bus or logind the agent runs without a lock and says so once; when logind
/// (re)appears, ``InhibitorLock`` takes the lock.
public final class LogindBridge: Component, Sendable {
    public let name = "logind"
    private let systemBus: BusConnection?
    private let store: Store
    private let logger: Logger
    private let coordinator: ShutdownCoordinator<ContinuousClock>
    private let state = Mutex<(lock: InhibitorLock?, tasks: [Task<Void, Never>])>((nil, []))

    init(systemBus: BusConnection?, coordinator: ShutdownCoordinator<ContinuousClock>, store: Store, logger: Logger) {
        self.systemBus = systemBus
        self.coordinator = coordinator
        self.store = store
        self.logger = logger
    }

    public func start() async throws {
        guard let systemBus else {
            logger.warning("no system bus: running without a logind delay lock, so a shutdown or sleep will not wait for work")
            return
        }
        let logind = LogindManager(connection: systemBus)
        let lock = InhibitorLock(logind: logind, who: "Quiesce", why: "Finishing sessions and NAS copies", logger: logger)
        try await lock.start()
        // The window: what logind will wait for us, less a margin to release in time.
        let delay = (try? await logind.inhibitDelayMax()) ?? .seconds(5)
        let window = max(.zero, delay - .milliseconds(500))
        let shutdown = try await logind.prepareForShutdown()
        let sleep = try await logind.prepareForSleep()
        let tasks = [
            Task { await self.follow(shutdown, kind: .shutdown, window: window, lock: lock) },
            Task { await self.follow(sleep, kind: .sleep, window: window, lock: lock) },
        ]
        state.withLock { $0 = (lock, tasks) }
    }

    public func stop() async throws {
        let (lock, tasks) = state.withLock { state in
            defer { state = (nil, []) }
            return state
        }
        // The lock first: it is what logind waits for; the followers' matches are removed on
        // the bus queue in the background once they are cancelled.
        lock?.stop()
        for task in tasks { task.cancel() }
    }

    /// Follows one kind of announcement. The wait for a hold's release runs beside the loop, not in
    /// it: a `PrepareFor…(false)` that comes while work still holds the system up must be read at
    /// once (it cancels the hold, and the lock stays), not after the window.
    private func follow(_ announcements: some AsyncSequence<Bool, Never>, kind: SystemHoldKind, window: Duration, lock: InhibitorLock) async {
        var releasing: (hold: SystemHold, task: Task<Void, Never>)?
        for await active in announcements {
            if active {
                logger.info("logind: the system prepares to \(kind == .shutdown ? "shut down" : "sleep"); holding it up to \(window)")
                let trigger: Trigger = kind == .shutdown ? .systemShutdown(window: window) : .systemSleep(window: window)
                // A second announcement while the first is held gets the same hold: one release.
                guard let hold = await coordinator.trigger(trigger).hold, releasing?.hold !== hold else { continue }
                releasing = (hold, Task {
                    let release = await hold.released()
                    // Called off: the system is not going anywhere, and the lock stays held.
                    guard release != .cancelled else { return }
                    // What was acknowledged is on disk before the machine goes.
                    try? self.store.checkpoint()
                    lock.release()
                    self.logger.info("logind: released the delay lock (\(release))")
                })
            } else {
                await coordinator.resume(kind)
                await releasing?.task.value
                releasing = nil
                await lock.retake()
                logger.info("logind: the \(kind) is over or cancelled; running again with the lock")
            }
        }
        releasing?.task.cancel()
    }
}
