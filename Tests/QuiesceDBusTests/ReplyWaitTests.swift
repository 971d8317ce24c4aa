import Foundation
import Synchronization
@testable import QuiesceDBus
import QuiesceTestSupport
import Testing

/// `ReplyWait`: a caller off the connection's thread takes its reply in its own thread when it
/// comes within the wait (no suspension, so no second thread woken), and suspends as before when
/// it does not. A task's suspension is seen by its executor: resumed, it is enqueued again.
@Suite("Replies waited for in the caller's thread")
struct ReplyWaitTests {
    /// A one-thread executor that counts the jobs it is given.
    final class CountingExecutor: TaskExecutor, @unchecked Sendable {
        // Safe: `jobs`, `count` and `stopped` are touched only with `condition` locked.
        private let condition = NSCondition()
        private var jobs: [UnownedJob] = []
        private var count = 0
        private var stopped = false

        init() {
            Thread { [self] in loop() }.start()
        }

        var enqueued: Int {
            condition.lock()
            defer { condition.unlock() }
            return count
        }

        func enqueue(_ job: consuming ExecutorJob) {
            condition.lock()
            jobs.append(UnownedJob(job))
            count += 1
            condition.signal()
            condition.unlock()
        }

        /// Ends the thread once its queue is empty.
        func stop() {
            condition.lock()
            stopped = true
            condition.signal()
            condition.unlock()
        }

        private func loop() {
            while true {
                condition.lock()
                while jobs.isEmpty && !stopped { condition.wait() }
                guard !jobs.isEmpty else {
                    condition.unlock()
                    return
                }
                let job = jobs.removeFirst()
                condition.unlock()
                job.runSynchronously(on: asUnownedTaskExecutor())
            }
        }
    }

    @Test("a reply that comes within the wait is taken in the caller's thread: the task does not suspend")
    func takenWithoutSuspending() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }
        let executor = CountingExecutor()
        defer { executor.stop() }
        let replyWait = try #require(connection.replyWait)
        // Counted among the calls that waited: a loaded machine can answer one later than the
        // wait, and the connection's next calls then suspend at once. Without the wait, a call
        // returns without suspending only when its reply beat the task's own suspension (rare).
        let (waited, unsuspended) = try await withTaskExecutorPreference(executor) {
            var waited = 0
            var unsuspended = 0
            for _ in 0..<300 {
                let waits = replyWait.callsToSuspend == 0
                let before = executor.enqueued
                let reply = try await connection.call(try BusCalls.getID())
                #expect(try reply.arguments().first?.string?.count == 32)
                guard waits else { continue }
                waited += 1
                if executor.enqueued == before { unsuspended += 1 }
            }
            return (waited, unsuspended)
        }
        #expect(waited > 0)
        #expect(unsuspended * 2 > waited, "\(unsuspended) of \(waited) calls returned without suspending")
    }

    @Test("a reply later than the wait still comes, by the suspended call, and the connection's next calls suspend at once")
    func lateReplySuspends() async throws {
        let bus = try PrivateBus()
        let server = try await BusConnection.open(address: bus.address)
        defer { server.close() }
        let client = try await BusConnection.open(address: bus.address)
        defer { client.close() }
        let replyWait = try #require(client.replyWait)
        let serverName = try #require(server.uniqueName)
        let gate = AsyncStream<Void>.makeStream()
        try server.export(ExportedObject(
            path: "/io/github/quiesce/Test",
            interfaces: [DBusInterface("io.github.quiesce.Test.Late", methods: [
                DBusMethod("Answer", out: "s") { _ in
                    for await _ in gate.stream { break }
                    return [.string("late")]
                },
            ])],
            introspectionXML: ""))
        let executor = CountingExecutor()
        defer { executor.stop() }
        let late = Task {
            try await withTaskExecutorPreference(executor) {
                let before = executor.enqueued
                let reply = try await client.call(try DBusMessage.methodCall(
                    destination: serverName, path: "/io/github/quiesce/Test",
                    interface: "io.github.quiesce.Test.Late", member: "Answer"))
                return (try reply.arguments(), executor.enqueued - before)
            }
        }
        // The wait has ended without the reply: the calls after it will not wait.
        try await eventually("the wait given up") { replyWait.callsToSuspend == ReplyWait.coolDown }
        gate.continuation.yield()
        let (arguments, resumptions) = try await late.value
        #expect(arguments == [.string("late")])
        #expect(resumptions == 1, "the call suspended and was resumed by its reply")

        // The call right after it does not wait in its thread (the count goes down; whether its
        // task then suspends depends on whether the reply beat it there).
        let reply = try await client.call(try BusCalls.getID())
        #expect(try reply.arguments().first?.string?.count == 32)
        #expect(replyWait.callsToSuspend == ReplyWait.coolDown - 1)
    }
}
