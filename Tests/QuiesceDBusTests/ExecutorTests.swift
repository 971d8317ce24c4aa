import Foundation
import QuiesceDBus
import QuiesceTestSupport
import Testing

/// `BusConnection.executor`: tasks that prefer it run on the connection's own thread, so a reply
/// or a signal resumes them where it was read. These check where they run, that many of them
/// share the thread without losing a reply, and that they outlive the connection.
@Suite("The connection's executor")
struct ExecutorTests {
    /// The thread the loop runs on names itself so (`WatchPoller.threadName`).
    private static let loopThread = "quiesce-bus"

    private static func currentThreadName() -> String {
        let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
        return name.trimmingCharacters(in: .newlines)
    }

    @Test("replies and signals resume a task that prefers the executor on the connection's own thread")
    func resumesOnTheLoopThread() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }

        let (threads, signal) = try await withTaskExecutorPreference(connection.executor) {
            var threads: Set<String> = [Self.currentThreadName()]
            for _ in 0..<50 {
                let reply = try await connection.call(try BusCalls.getID())
                #expect(try reply.arguments().first?.string?.count == 32)
                threads.insert(Self.currentThreadName())
            }
            let stream = try await connection.signals(matching: MatchRule(interface: "io.github.quiesce.Test", member: "Hello"))
            threads.insert(Self.currentThreadName())
            let emitted = try await run("/usr/bin/dbus-send", [
                "--bus=\(bus.address)", "--type=signal", "/io/github/quiesce/Test", "io.github.quiesce.Test.Hello", "string:here",
            ])
            #expect(emitted.status == 0, "\(emitted.error)")
            var iterator = stream.makeAsyncIterator()
            let signal = await iterator.next()
            threads.insert(Self.currentThreadName())
            return (threads, signal)
        }
        #expect(threads == [Self.loopThread])
        #expect(try signal?.arguments() == [.string("here")])

        // Without the preference, the same calls resume on the cooperative pool.
        _ = try await connection.call(try BusCalls.getID())
        #expect(Self.currentThreadName() != Self.loopThread)
    }

    @Test("many tasks on the executor at once: every call answered, none lost or answered twice")
    func manyTasksShareTheThread() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }
        let (answered, threads) = try await withTaskExecutorPreference(connection.executor) {
            try await withThrowingTaskGroup(of: (Int, Set<String>).self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        var answered = 0
                        var threads: Set<String> = []
                        for _ in 0..<25 {
                            let reply = try await connection.call(try BusCalls.getID())
                            if try reply.arguments().first?.string != nil { answered += 1 }
                            threads.insert(Self.currentThreadName())
                        }
                        return (answered, threads)
                    }
                }
                var total = 0
                var threads: Set<String> = []
                for try await (answered, seen) in group {
                    total += answered
                    threads.formUnion(seen)
                }
                return (total, threads)
            }
        }
        #expect(answered == 500)
        #expect(threads == [Self.loopThread])
    }

    @Test("a task on the executor carries on after the connection closes, on the global executor")
    func outlivesTheConnection() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        let finished = BusTests.Recorder()
        // In a task of its own, so a task stranded on the stopped thread fails the test instead of hanging it.
        let work = Task {
            defer { finished.mark() }
            return await withTaskExecutorPreference(connection.executor) { () async -> (String, DBusError.Name?, String) in
                let before = Self.currentThreadName()
                connection.close()
                var refused: DBusError.Name?
                do throws(DBusError) {
                    _ = try await connection.call(try BusCalls.getID())
                } catch {
                    refused = error.name
                }
                // A suspension after the loop stopped: the task must be resumed somewhere else.
                try? await Task.sleep(for: .milliseconds(20))
                return (before, refused, Self.currentThreadName())
            }
        }
        try await eventually("the task finished after the close", limit: .seconds(10)) { finished.marked }
        let outcome = await work.value
        #expect(outcome.0 == Self.loopThread)
        #expect(outcome.1 == .disconnected)
        #expect(outcome.2 != Self.loopThread)
    }
}
