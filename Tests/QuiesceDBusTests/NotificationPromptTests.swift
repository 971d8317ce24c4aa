import Foundation
import QuiesceCore
import QuiesceDBus
import QuiesceTestSupport
import Testing

@Suite("The notification prompt against python-dbusmock")
struct NotificationPromptTests {
    let question = PromptQuestion(count: 2, running: ["recording: lab-3", "copy <big>.iso"])

    /// Asks on `server`'s bus in a task; returns the task and the update stream's continuation.
    private func asking(_ server: NotificationMock) async throws -> (Task<PromptAnswer, Never>, AsyncStream<PromptQuestion>.Continuation, BusConnection) {
        let connection = try await BusConnection.open(address: server.bus.address)
        let (updates, feed) = AsyncStream.makeStream(of: PromptQuestion.self)
        let prompt = NotificationPrompt(connection: connection)
        let question = question
        let task = Task { await prompt.ask(question, updates: updates) }
        try await eventually("Notify sent") { try await server.calls().contains { $0.method == "Notify" } }
        return (task, feed, connection)
    }

    @Test("the notification asks with Force quit / Wait, critical urgency, our desktop entry and the running items")
    func notificationContents() async throws {
        let server = try await NotificationMock()
        let (task, _, connection) = try await asking(server)
        defer { connection.close() }
        let notify = try #require(try await server.calls().first { $0.method == "Notify" })
        #expect(notify.arguments[0] == .string("Quiesce"))
        #expect(notify.arguments[3] == .string("2 operations still running. Force quit anyway?"))
        #expect(notify.arguments[4] == .string("recording: lab-3\ncopy <big>.iso"), "no markup escaping without body-markup")
        #expect(notify.arguments[5] == .strings(["force", "Force quit", "wait", "Wait"]))
        let hints = try #require(notify.arguments[6].vardict)
        #expect(hints["urgency"] == .byte(2))
        #expect(hints["desktop-entry"] == .string("io.github.quiesce.Agent"))
        #expect(notify.arguments[7] == .int32(0), "never expires by itself")
        task.cancel()
        _ = await task.value
    }

    @Test("Force quit answers force and the prompt closes its notification", arguments: ["force", "wait"])
    func actions(key: String) async throws {
        let server = try await NotificationMock()
        let (task, _, connection) = try await asking(server)
        defer { connection.close() }
        try await server.emit("ActionInvoked", signature: "us", [.uint32(1), .string(key)])
        #expect(await task.value == (key == "force" ? .force : .wait))
        try await eventually("CloseNotification sent") { try await server.calls().contains { $0.method == "CloseNotification" } }
    }

    @Test("an ActionInvoked from anyone but the notification server is ignored: no program on the bus can force the agent")
    func foreignSender() async throws {
        let server = try await NotificationMock()
        let (task, _, connection) = try await asking(server)
        defer { connection.close() }
        let rogue = try await BusConnection.open(address: server.bus.address)
        defer { rogue.close() }
        try rogue.send(try DBusMessage.signal(
            path: "/org/freedesktop/Notifications", interface: "org.freedesktop.Notifications", member: "ActionInvoked",
            arguments: [.uint32(1), .string("force")]))
        // Then the real server's answer: the prompt must return that one, not the rogue's.
        try await Task.sleep(for: .milliseconds(200))
        try await server.emit("ActionInvoked", signature: "us", [.uint32(1), .string("wait")])
        #expect(await task.value == .wait)
    }

    @Test("dismissing the notification counts as Wait (it is the user's answer, not a failure)")
    func dismissal() async throws {
        let server = try await NotificationMock()
        let (task, _, connection) = try await asking(server)
        defer { connection.close() }
        try await server.emit("NotificationClosed", signature: "uu", [.uint32(1), .uint32(2)])
        #expect(await task.value == .dismissed)
    }

    @Test("signals about other notifications are ignored")
    func otherNotifications() async throws {
        let server = try await NotificationMock()
        let (task, _, connection) = try await asking(server)
        defer { connection.close() }
        try await server.emit("ActionInvoked", signature: "us", [.uint32(99), .string("force")])
        try await server.emit("NotificationClosed", signature: "uu", [.uint32(98), .uint32(2)])
        try await server.emit("ActionInvoked", signature: "us", [.uint32(1), .string("wait")])
        #expect(await task.value == .wait)
    }

    @Test("withdrawn while shown: the prompt calls CloseNotification")
    func withdrawal() async throws {
        let server = try await NotificationMock()
        let (task, _, connection) = try await asking(server)
        defer { connection.close() }
        task.cancel()
        _ = await task.value
        try await eventually("CloseNotification sent") { try await server.calls().contains { $0.method == "CloseNotification" } }
    }

    @Test("as counts change the notification is updated in place (replaces_id)")
    func updatesInPlace() async throws {
        let server = try await NotificationMock()
        let (task, feed, connection) = try await asking(server)
        defer { connection.close() }
        feed.yield(PromptQuestion(count: 1, running: ["copy <big>.iso"]))
        try await eventually("a second Notify") { try await server.calls().filter { $0.method == "Notify" }.count == 2 }
        let second = try #require(try await server.calls().filter { $0.method == "Notify" }.last)
        #expect(second.arguments[1] == .uint32(1), "replaces the first notification")
        #expect(second.arguments[3] == .string("1 operation still running. Force quit anyway?"))
        task.cancel()
        _ = await task.value
    }

    @Test("no notification server on the bus: unavailable at once")
    func noServer() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }
        let answer = await NotificationPrompt(connection: connection).ask(question, updates: AsyncStream { $0.finish() })
        #expect(answer == .unavailable("no notification server is running"))
    }

    @Test("a server without the actions capability: unavailable")
    func noActions() async throws {
        let server = try await NotificationMock(capabilities: "body body-markup")
        let connection = try await BusConnection.open(address: server.bus.address)
        defer { connection.close() }
        let answer = await NotificationPrompt(connection: connection).ask(question, updates: AsyncStream { $0.finish() })
        #expect(answer == .unavailable("the notification server cannot show actions"))
        #expect(try await server.calls().contains { $0.method == "Notify" } == false)
    }

    @Test("the server going away while the prompt shows: unavailable")
    func serverVanishes() async throws {
        let server = try await NotificationMock()
        let (task, _, connection) = try await asking(server)
        defer { connection.close() }
        server.stop()
        #expect(await task.value == .unavailable("the notification server left the bus"))
    }
}
