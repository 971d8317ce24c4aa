import Foundation
import QuiesceCore
import QuiesceDBus
import QuiesceTestSupport
import Testing

/// The prompt against dunst, a real notification server that, unlike the mock, sends its signals
/// only to the connection that called Notify and leaves notifications up after an action.
@Suite("The notification prompt against dunst", .serialized)
struct DunstTests {
    let question = PromptQuestion(count: 1, running: ["recording: lab-3"])

    private func asking(_ dunst: DunstServer) async throws -> (Task<PromptAnswer, Never>, BusConnection) {
        let connection = try await BusConnection.open(address: dunst.bus.address)
        let prompt = NotificationPrompt(connection: connection)
        let question = question
        let task = Task { await prompt.ask(question, updates: AsyncStream { _ in }) }
        try await eventually("dunst showing the prompt") { try await dunst.displayed() == 1 }
        return (task, connection)
    }

    @Test("Force quit and Wait chosen in dunst's menu answer the prompt, which then closes the notification", arguments: ["force", "wait"])
    func actions(key: String) async throws {
        let dunst = try await DunstServer()
        let (task, connection) = try await asking(dunst)
        defer { connection.close() }
        try await dunst.invoke(key)
        #expect(await task.value == (key == "force" ? .force : .wait))
        try await eventually("the notification gone from dunst") { try await dunst.displayed() == 0 }
    }

    @Test("closing the notification in dunst is a dismissal")
    func dismissal() async throws {
        let dunst = try await DunstServer()
        let (task, connection) = try await asking(dunst)
        defer { connection.close() }
        _ = try await dunst.control(["close"])
        #expect(await task.value == .dismissed)
    }

    @Test("withdrawn while shown: dunst takes the notification down")
    func withdrawal() async throws {
        let dunst = try await DunstServer()
        let (task, connection) = try await asking(dunst)
        defer { connection.close() }
        task.cancel()
        _ = await task.value
        try await eventually("the notification gone from dunst") { try await dunst.displayed() == 0 }
    }
}
