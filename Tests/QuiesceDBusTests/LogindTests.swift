import Foundation
import Logging
import QuiesceDBus
import QuiesceTestSupport
import Testing

/// The delay lock against the real systemd-logind on a private system bus.
@Suite("logind delay lock", .serialized)
struct LogindTests {
    let logger = Logger(label: "test")

    private func ours(_ logind: LogindManager) async throws -> [LogindManager.Inhibitor] {
        try await logind.listInhibitors().filter { $0.who == "quiesce-test" }
    }

    @Test("the lock appears in ListInhibitors with who and why, and is gone once released")
    func lockLifecycle() async throws {
        let rig = try await LogindRig()
        let logind = LogindManager(connection: rig.connection)
        #expect(try await logind.inhibitDelayMax() > .zero)
        let lock = InhibitorLock(logind: logind, who: "quiesce-test", why: "sessions and copies must not be cut off", logger: logger)
        try await lock.start()
        #expect(lock.isHeld)
        let held = try await ours(logind)
        #expect(held.map(\.what) == ["shutdown:sleep"])
        #expect(held.first?.mode == "delay")
        #expect(held.first?.why == "sessions and copies must not be cut off")
        #expect(held.first?.pid == UInt32(getpid()))
        lock.release()
        try await eventually("the lock gone from logind") { try await ours(logind).isEmpty }
        lock.stop()
    }

    @Test("PowerOff: PrepareForShutdown(true) reaches us, we release, logind goes on, then (false) we take the lock again")
    func shutdownCycle() async throws {
        let rig = try await LogindRig()
        let logind = LogindManager(connection: rig.connection)
        let lock = InhibitorLock(logind: logind, who: "quiesce-test", why: "test", logger: logger)
        try await lock.start()
        var announcements = try await logind.prepareForShutdown().makeAsyncIterator()

        try await logind.powerOff()
        #expect(await announcements.next() == true)
        #expect(try await rig.managerCalls().filter { $0.hasPrefix("StartUnit") }.isEmpty, "logind waits for our delay lock")
        lock.release()
        try await eventually("logind going on to poweroff.target") {
            try await rig.managerCalls().contains { $0.hasPrefix("StartUnit poweroff.target") }
        }
        #expect(await announcements.next() == false)
        await lock.retake()
        #expect(try await ours(logind).count == 1, "the lock is held again")
        lock.stop()
    }

    @Test("when logind restarts, the lock is taken again")
    func logindRestarts() async throws {
        let rig = try await LogindRig()
        let logind = LogindManager(connection: rig.connection)
        let lock = InhibitorLock(logind: logind, who: "quiesce-test", why: "test", logger: logger)
        try await lock.start()
        try await rig.restartLogind()
        try await eventually("the lock taken from the new logind") { try await ours(logind).count == 1 }
        lock.stop()
    }

    @Test("without logind the agent runs without a lock, and takes one when logind appears")
    func logindAbsent() async throws {
        let rig = try await LogindRig()
        try await rig.stopLogind()
        let logind = LogindManager(connection: rig.connection)
        let lock = InhibitorLock(logind: logind, who: "quiesce-test", why: "test", logger: logger)
        try await lock.start()
        #expect(!lock.isHeld, "no logind: no lock, and no failure")
        try await rig.restartLogind()
        try await eventually("the lock taken once logind appeared") { lock.isHeld }
        #expect(try await ours(logind).count == 1)
        lock.stop()
    }
}
