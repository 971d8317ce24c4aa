import Foundation
@testable import QuiesceAgent
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
}
