import Foundation
@testable import QuiesceAgent
@testable import QuiesceCore
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Synchronization
import Testing

@Suite("The agent's properties")
struct StatusBoardTests {
    @Test("PropertiesChanged announces changes in the order they were made, from any number of threads")
    func announcementsInOrder() async throws {
        let bus = try PrivateBus()
        let server = try await BusConnection.open(address: bus.address)
        let client = try await BusConnection.open(address: bus.address)
        defer { server.close(); client.close() }
        let board = StatusBoard(connection: server)
        board.markExported()
        let changes = try await client.signals(matching: MatchRule(
            sender: server.uniqueName, interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged", path: AgentInterface.path))
        let seen = Mutex<[UInt32]>([])
        let listening = Task {
            for await message in changes {
                if let value = (try? message.arguments())?[1].vardict?["QueuedJobs"]?.uint32 { seen.withLock { $0.append(value) } }
            }
        }
        defer { listening.cancel() }
        // Two threads, each adding one: the board's lock orders the changes; the announcements
        // must follow that order (before the fix they could overtake each other).
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask { for _ in 0..<300 { board.update { $0.queuedJobs += 1 } } }
            }
        }
        try await eventually("the last announcement (600)") { seen.withLock { $0.last == 600 } }
        let values = seen.withLock { $0 }
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 < $1 }, "announced out of order: \(values.prefix(40))…")
    }

    @Test("a window's end read again at a later event stays as announced; a window that moved is announced")
    func deadlineKeptAcrossEvents() async throws {
        let bus = try PrivateBus()
        let server = try await BusConnection.open(address: bus.address)
        defer { server.close() }
        let board = StatusBoard(connection: server)
        func draining(_ remaining: Duration) -> ShutdownEvent {
            ShutdownEvent(kind: .componentStopped("worker", .stopped), phase: .draining, reason: .idle, work: WorkCounts(), remaining: remaining)
        }
        board.apply(draining(.seconds(30)))
        let first = board.current.deadline
        #expect(first > 0)
        // The same window a moment later, as the next event reads it: 30 s less a little, the
        // wall clock a little on (here 40 ms, more than the clocks' real jitter). Before the fix
        // the property moved, and every event of a quit announced it.
        board.apply(draining(.seconds(30) - .milliseconds(40)))
        #expect(board.current.deadline == first, "the same window announced as moved by \(board.current.deadline - first) ms")
        // Pulled in (a SIGTERM during a quit): a new end, announced.
        board.apply(draining(.seconds(5)))
        #expect(board.current.deadline < first - 20_000)
    }
}
