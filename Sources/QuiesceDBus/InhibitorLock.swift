public import Logging
import Synchronization

/// The agent's `shutdown:sleep` delay lock, kept for as long as the agent runs.
///
/// - Takes the lock with who/why; without logind (absent, or it refuses) the agent runs without
///   one and says so, and takes it the moment logind (re)appears on the bus.
/// - ``release()`` closes the descriptor (the only copy: libdbus's own is gone with the reply), so
///   logind sees the lock go at once.
/// - ``retake()`` after `PrepareFor…(false)`, when the system did not go down or woke up.
public final class InhibitorLock: Sendable {
    private struct State {
        var fd: OwnedFD?
        var watching: Task<Void, Never>?
        var stopped = false
    }

    private let logind: LogindManager
    private let who: String
    private let why: String
    private let logger: Logger
    private let state = Mutex(State())

    public init(logind: LogindManager, who: String, why: String, logger: Logger) {
        self.logind = logind
        self.who = who
        self.why = why
        self.logger = logger
    }

    /// Whether the lock is held now.
    public var isHeld: Bool { state.withLock { $0.fd?.isOpen == true } }

    /// Takes the lock if logind is there, and from now on takes it again whenever logind comes
    /// (back) onto the bus.
    public func start() async throws(DBusError) {
        let changes = try await logind.connection.nameOwnerChanges(of: LogindManager.busName)
        let watching = Task { [weak self] in
            for await change in changes where !change.newOwner.isEmpty {
                guard let self else { return }
                self.logger.notice("logind appeared on the bus (\(change.newOwner)); taking the delay lock")
                state.withLock { $0.fd?.close(); $0.fd = nil }
                await self.retake()
            }
        }
        state.withLock { $0.watching = watching }
        await retake()
    }

    /// Takes the lock unless it is held; logs and carries on without one when logind is absent or
    /// refuses.
    public func retake() async {
        guard !state.withLock({ $0.stopped || $0.fd?.isOpen == true }) else { return }
        do {
            let fd = try await logind.inhibit(what: "shutdown:sleep", who: who, why: why, mode: "delay")
            let kept = state.withLock { state -> Bool in
                guard !state.stopped, state.fd?.isOpen != true else { return false }
                state.fd = fd
                return true
            }
            if kept {
                logger.info("holding a shutdown:sleep delay lock from logind")
            } else {
                fd.close()
            }
        } catch {
            logger.warning("running without a shutdown delay lock: \(error.message) (\(error.name)); it is taken when logind appears")
        }
    }

    /// Lets the system go on: closes the lock's descriptor.
    public func release() {
        let fd = state.withLock { state -> OwnedFD? in
            defer { state.fd = nil }
            return state.fd
        }
        fd?.close()
        if fd != nil { logger.info("released the delay lock") }
    }

    /// Releases the lock for good and stops watching for logind.
    public func stop() {
        let watching = state.withLock { state -> Task<Void, Never>? in
            state.stopped = true
            return state.watching
        }
        release()
        watching?.cancel()
    }
}
