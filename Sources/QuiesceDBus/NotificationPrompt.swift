public import QuiesceCore

/// Asks "Force quit anyway?" as a freedesktop notification with Force quit / Wait actions.
///
/// - Sends `Notify` and listens for `ActionInvoked` / `NotificationClosed` on the **same**
///   connection: servers such as dunst send those signals only to the connection that asked.
/// - Requires the `actions` capability; no server (the bus answers `ServiceUnknown`), a server
///   without actions, an error, or the server leaving the bus while asking all answer
///   ``PromptAnswer/unavailable(_:)``, and the coordinator forces at the deadline.
/// - Keeps the notification current with `replaces_id` as counts change, and closes it itself
///   after an answer (dunst leaves it up) or when withdrawn.
/// - `NotificationClosed` without an action is a dismissal (Wait), whatever the reason code:
///   the user did not choose to lose work (`docs/protocol.md`).
public struct NotificationPrompt: Prompt {
    public let name = "notification"
    static let busName = "org.freedesktop.Notifications"
    static let path = "/org/freedesktop/Notifications"
    static let interface = "org.freedesktop.Notifications"

    public let connection: BusConnection
    public let appName: String
    public let desktopEntry: String

    public init(connection: BusConnection, appName: String = "Quiesce", desktopEntry: String = "io.github.quiesce.Agent") {
        self.connection = connection
        self.appName = appName
        self.desktopEntry = desktopEntry
    }

    public func ask(_ question: PromptQuestion, updates: AsyncStream<PromptQuestion>) async -> PromptAnswer {
        let capabilities: [String]
        do {
            let reply = try await connection.call(try call("GetCapabilities", []), timeout: .seconds(5))
            capabilities = try reply.arguments().first?.strings ?? []
        } catch {
            return .unavailable(error.name == .serviceUnknown ? "no notification server is running" : "the notification server failed: \(error.message)")
        }
        guard capabilities.contains("actions") else {
            return .unavailable("the notification server cannot show actions")
        }
        let markup = capabilities.contains("body-markup")

        let events: AsyncStream<Event>
        let feeders: [Task<Void, Never>]
        let id: UInt32
        do {
            // Answers count only from the server we ask: any program on the session bus can emit
            // ActionInvoked, and would otherwise force-quit the agent with one signal.
            guard let server = try await connection.nameOwner(Self.busName) else {
                return .unavailable("no notification server is running")
            }
            (events, feeders) = try await subscribe(updates: updates, server: server)
            id = try await notify(question, replacing: 0, markup: markup)
        } catch {
            return .unavailable("the notification server failed: \(error.message)")
        }
        defer { for feeder in feeders { feeder.cancel() } }

        // (answer, whether the server has already taken the notification down)
        let (answer, closedByServer): (PromptAnswer, Bool) = await withTaskCancellationHandler {
            for await event in events {
                switch event {
                case .action(id, "force"): return (.force, false)
                case .action(id, "wait"): return (.wait, false)
                case .closed(id): return (.dismissed, true)
                case .update(let newer): _ = try? await notify(newer, replacing: id, markup: markup)
                case .serverGone: return (.unavailable("the notification server left the bus"), true)
                default: continue
                }
            }
            return (.dismissed, false)  // withdrawn: the coordinator cancelled us
        } onCancel: {
            for feeder in feeders { feeder.cancel() }
        }
        // Take it down ourselves after an answer (dunst leaves it up) or a withdrawal. Sent without
        // waiting for a reply: a withdrawn prompt's task is cancelled, and an awaited call would be
        // cancelled with it before it left.
        if !closedByServer, let close = try? call("CloseNotification", [.uint32(id)]) {
            close.expectNoReply()
            try? connection.send(close)
        }
        return answer
    }

    private enum Event: Sendable {
        case action(UInt32, String)
        case closed(UInt32)
        case update(PromptQuestion)
        case serverGone
    }

    /// One stream of everything the prompt reacts to, fed by a task per source.
    /// Signals count only from `server`, the unique name that owns the notification service.
    private func subscribe(updates: AsyncStream<PromptQuestion>, server: String) async throws(DBusError) -> (AsyncStream<Event>, [Task<Void, Never>]) {
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        let signals = try await connection.signals(matching: MatchRule(sender: server, interface: Self.interface, path: Self.path))
        let owners = try await connection.nameOwnerChanges(of: Self.busName)
        let fromSignals = Task {
            for await signal in signals where signal.sender == server {
                guard let arguments = try? signal.arguments(), let id = arguments.first?.uint32 else { continue }
                switch signal.member {
                case "ActionInvoked": if let key = arguments.dropFirst().first?.string { sink.yield(.action(id, key)) }
                case "NotificationClosed": sink.yield(.closed(id))
                default: break
                }
            }
            sink.finish()
        }
        let fromUpdates = Task {
            for await question in updates { sink.yield(.update(question)) }
        }
        let fromOwners = Task {
            for await change in owners where change.newOwner.isEmpty { sink.yield(.serverGone) }
        }
        return (events, [fromSignals, fromUpdates, fromOwners])
    }

    /// Shows (or, with `replacing`, updates in place) the notification; returns its id.
    private func notify(_ question: PromptQuestion, replacing: UInt32, markup: Bool) async throws(DBusError) -> UInt32 {
        let body = markup ? question.body.escapingMarkup() : question.body
        let reply = try await connection.call(try call("Notify", [
            .string(appName), .uint32(replacing), .string("dialog-warning"), .string(question.summary), .string(body),
            .strings(["force", "Force quit", "wait", "Wait"]),
            .vardict(["urgency": .byte(2), "desktop-entry": .string(desktopEntry), "resident": .boolean(true)]),
            .int32(0),
        ]), timeout: .seconds(5))
        guard let id = try reply.arguments().first?.uint32 else { throw .malformed("Notify answered (\(reply.signature))") }
        return id
    }

    private func call(_ member: String, _ arguments: [DBusValue]) throws(DBusError) -> DBusMessage {
        try DBusMessage.methodCall(destination: Self.busName, path: Self.path, interface: Self.interface, member: member, arguments: arguments)
    }
}

extension String {
    /// Escapes what a markup-capable peer would read as markup (the freedesktop notification
    /// spec's body markup, a tray host's tooltip): `&`, `<`, `>`.
    public func escapingMarkup() -> String {
        var result = ""
        for character in self {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            default: result.append(character)
            }
        }
        return result
    }
}
