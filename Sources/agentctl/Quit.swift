import ArgumentParser
import Glibc
import QuiesceDBus
import QuiesceInterface
import QuiesceThreads

/// `agentctl quit`: asks the agent to quit and follows the drain until it has exited.
///
/// On a terminal it shows what still runs and the seconds left on one line, and while the prompt
/// is up it takes `f` (force) or `w` (wait) from the keyboard, racing the desktop notification:
/// the first answer wins. Not on a terminal it prints plain lines when something changes.
struct Quit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quit the agent without losing work (exit 0 clean, 3 when work was cut off).",
        discussion: "An agent that is not running counts as quit (exit 0).")

    @Flag(help: "Quit now; interrupted copies resume at the next start.")
    var force = false

    @Option(help: ArgumentHelp("Seconds to wait for work to end before asking (default: the agent's quit window).", valueName: "seconds"))
    var timeout: UInt32?

    @Flag(help: "Ask and return at once, without following the drain.")
    var noWait = false

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    func run() async throws {
        if Self.interactive(json: json, noWait: noWait) {
            try await Self.follow(force: force, timeout: timeout, json: json)
        } else {
            try Self.followPlainly(force: force, timeout: timeout, noWait: noWait, json: json)
        }
    }

    /// Whether the quit is followed on a terminal: the live line, and `f`/`w` from the keyboard.
    static func interactive(json: Bool, noWait: Bool) -> Bool {
        isatty(0) == 1 && isatty(1) == 1 && !json && !noWait
    }

    /// What the command asks the agent for.
    private static func options(force: Bool, timeout: UInt32?, interactive: Bool) -> DBusValue {
        var options: [String: DBusValue] = [:]
        if force { options["force"] = .boolean(true) }
        if let timeout { options["timeout"] = .uint32(timeout) }
        if interactive { options["interactive"] = .boolean(true) }
        return .vardict(options)
    }

    /// The agent's property changes and its departure from the bus: subscribed before asking, so
    /// nothing between the call and the first signal is missed; one sequence for both, so the
    /// agent's last property change (its Outcome) is read before its departure, in the order the
    /// bus delivered them. `agent` is its unique name, or its well-known name (which the bus
    /// alone can match: the agent's changes while it holds the name).
    private static func rules(agent: String) -> [MatchRule] {
        [
            MatchRule(sender: agent, interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged", path: AgentInterface.path),
            .nameOwnerChanged(of: AgentInterface.busName),
        ]
    }

    private static func notRunning(json: Bool) {
        if json { printJSON(["outcome": "not running"]) } else { print("the agent is not running") }
    }

    /// Not on a terminal (a script, a logout hook, `--json`, `--no-wait`): every call made on this
    /// thread over a ``BlockingBusConnection``, the drain followed by reading the signals as they
    /// come. No thread, no task: half of what the same over the event loop cost (docs/benchmarks.md).
    static func followPlainly(force: Bool = false, timeout: UInt32? = nil, noWait: Bool = false, json: Bool = false) throws {
        let connection = AgentClient.connectNow()
        defer { connection.close() }
        // One round trip for everything: the subscriptions (the agent's changes matched by its
        // well-known name), its properties, and `Quit` itself. The bus takes them in this order,
        // so the agent is followed from before it hears `Quit`, and the properties are those it
        // had then. Neither call may start a stopped agent: `Quit`'s `ServiceUnknown` is how a
        // stopped one is told. (Quit waited for the answers to the rest first: a round trip more.)
        let answers: [Result<DBusMessage, DBusError>]
        do {
            var calls = try rules(agent: AgentInterface.busName).map { rule throws(DBusError) in try connection.subscription(rule) }
            calls.append(try AgentClient.getAll().withoutActivation())
            calls.append(try AgentClient.methodCall(.quit, [options(force: force, timeout: timeout, interactive: false)]).withoutActivation())
            answers = try connection.callAll(calls, timeout: .seconds(30))
            for subscribed in answers.prefix(2) { _ = try subscribed.get() }
        } catch {
            throw AgentClient.explain(error)
        }
        if case .failure(let error) = answers[3] {
            guard error.name == .serviceUnknown || error.name == .nameHasNoOwner else { throw AgentClient.explain(error) }
            notRunning(json: json)
            return
        }
        var follower = QuitFollower(state: (try? answers[2].get()).flatMap(AgentClient.values(of:)) ?? [:], terminal: false, json: json)
        if noWait {
            if json { printJSON(["outcome": "requested"]) }
            return
        }
        while true {
            let message: DBusMessage
            do {
                message = try connection.nextSignal()
            } catch {
                throw AgentClient.explain(error)
            }
            switch QuitFollower.Update(message) {
            case .properties(let changed): follower.changed(changed)
            case .exited: throw follower.exited()
            case nil, .key, .tick: continue
            }
        }
    }

    /// On a terminal: the live line redrawn every second, and `f` or `w` answering the prompt
    /// from the keyboard, racing the desktop notification. Over the event loop, as tasks.
    static func follow(force: Bool = false, timeout: UInt32? = nil, json: Bool = false) async throws {
        let client = try await AgentClient.connect()
        guard let owner = await client.agentOwner() else {
            notRunning(json: json)
            return
        }
        let signals = try await client.connection.signals(matchingAny: rules(agent: owner))
        var follower = QuitFollower(state: await client.properties() ?? [:], terminal: true, json: json)
        _ = try await client.call(.quit, [options(force: force, timeout: timeout, interactive: true)])

        let (updates, feed) = AsyncStream.makeStream(of: QuitFollower.Update.self)
        let tasks = [
            Task {
                for await message in signals {
                    if let update = QuitFollower.Update(message) { feed.yield(update) }
                }
            },
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    feed.yield(.tick)
                }
            },
        ]
        defer { tasks.forEach { $0.cancel() } }
        // The agent may have gone between our GetAll and the subscription taking effect.
        if await client.agentOwner() == nil { feed.yield(.exited) }

        let keyboard = Keyboard(feed: { feed.yield(.key($0)) })
        defer { keyboard.restore() }
        for await update in updates {
            switch update {
            case .properties(let changed):
                follower.changed(changed)
            case .tick:
                follower.redraw()
            case .key(let key):
                guard let decision = follower.answer(to: key) else { continue }
                _ = try? await client.call(.answer, [.string(decision)])
            case .exited:
                throw follower.exited()
            }
        }
    }
}

/// What `agentctl quit` makes of what the agent reports, however the reports come.
private struct QuitFollower {
    /// What the agent reports, as it changes.
    enum Update: Sendable {
        case properties([String: DBusValue])
        case exited
        case key(UInt8)
        case tick

        /// The agent's `PropertiesChanged` or its departure from the bus; nil for anything else.
        init?(_ message: DBusMessage) {
            guard let arguments = try? message.arguments(), arguments.count == 3 else { return nil }
            if message.member == "PropertiesChanged", let changed = arguments[1].vardict {
                self = .properties(changed)
            } else if message.member == "NameOwnerChanged", arguments[2].string == "" {
                self = .exited
            } else {
                return nil
            }
        }
    }

    private var state: [String: DBusValue]
    private var display: Display
    private let json: Bool
    /// The work running when the agent decided to stop, for an agent that leaves without saying
    /// how it stopped.
    private var workWhenStopping: UInt32?

    init(state: [String: DBusValue], terminal: Bool, json: Bool) {
        self.state = state
        display = Display(terminal: terminal)
        self.json = json
    }

    mutating func changed(_ changed: [String: DBusValue]) {
        state.merge(changed) { $1 }
        if state[.state]?.string == "stopping", workWhenStopping == nil {
            workWhenStopping = (state[.activeSessions]?.uint32 ?? 0) + (state[.inFlightJobs]?.uint32 ?? 0)
        }
        display.show(state)
    }

    mutating func redraw() {
        display.show(state)
    }

    /// The answer a key gives the prompt showing now, if it is one.
    func answer(to key: UInt8) -> String? {
        guard state[.state]?.string == "prompting" else { return nil }
        switch key {
        case UInt8(ascii: "f"), UInt8(ascii: "F"): return "force"
        case UInt8(ascii: "w"), UInt8(ascii: "W"): return "wait"
        default: return nil
        }
    }

    /// The agent has left the bus: says how it stopped, and the command's exit status (0 clean,
    /// 3 when work was cut off).
    func exited() -> ExitCode {
        let work = workWhenStopping ?? (state[.activeSessions]?.uint32 ?? 0) + (state[.inFlightJobs]?.uint32 ?? 0)
        // The agent says how it stopped; counts are only a fallback for an agent that vanished
        // without saying so (it crashed, or was killed).
        let forced = state[.outcome]?.string.flatMap { $0.isEmpty ? nil : $0 == "forced" } ?? (work > 0)
        display.finish(forced ? "the agent quit; running work was cut off (copies resume at the next start)" : "the agent quit cleanly")
        if json { printJSON(["outcome": forced ? "forced" : "clean"]) }
        return ExitCode(forced ? 3 : 0)
    }
}

/// The live lines on a terminal (redrawn in place), or plain lines elsewhere.
private struct Display {
    let terminal: Bool
    var lastLine = ""
    /// How many lines the last drawing took on the terminal.
    var drawnLines = 0

    init(terminal: Bool) {
        self.terminal = terminal
    }

    mutating func show(_ state: [String: DBusValue]) {
        let phase = state[.state]?.string ?? "?"
        let sessions = state[.activeSessions]?.uint32 ?? 0
        let copies = state[.inFlightJobs]?.uint32 ?? 0
        // The agent's own words for what runs: the same lines as its notification.
        let running = state[.running]?.strings ?? []
        var line: String
        switch phase {
        case "prompting":
            line = "\(counted(sessions + copies, "operation", "operations")) still running. Force quit anyway?"
            if terminal { line += " [f]orce / [w]ait" }
            // What still runs, under the question, as the notification lists it.
            for item in running { line += "\n  \(item)" }
            let unlisted = Int(sessions + copies) - running.count
            if unlisted > 0 { line += "\n  and \(unlisted) more" }
        case "stopping", "stopped":
            line = "stopping…"
        default:
            // Nothing to wait for: the agent is about to stop, and says so next.
            guard sessions + copies > 0 else { return }
            line = "waiting for \(counted(sessions, "session", "sessions")) and \(counted(copies, "copy", "copies"))"
            if !running.isEmpty { line += " (\(running.prefix(3).joined(separator: ", "))\(running.count > 3 ? ", …" : ""))" }
            if let deadline = state[.deadline]?.int64, deadline > 0 {
                line += "; \(max(0, (deadline - nowMilliseconds() + 999) / 1000)) s left"
            }
        }
        guard line != lastLine else { return }
        lastLine = line
        if terminal {
            writeOut(erase() + line)
            drawnLines = line.split(separator: "\n", omittingEmptySubsequences: false).count
        } else {
            print(line)
        }
    }

    /// Back to the first line of the last drawing, and everything from there cleared.
    private func erase() -> String {
        (drawnLines > 1 ? "\u{1B}[\(drawnLines - 1)A" : "") + "\r\u{1B}[J"
    }

    private func counted(_ count: UInt32, _ one: String, _ many: String) -> String {
        "\(count) \(count == 1 ? one : many)"
    }

    func finish(_ message: String) {
        if terminal {
            writeOut(erase() + message + "\n")
        } else {
            print(message)
        }
    }
}

/// Single keys from the terminal, without echo or Enter, until restored.
private final class Keyboard: @unchecked Sendable {
    // Safe: `saved` is written once in init and read in restore().
    private var saved = termios()

    init(feed: @escaping @Sendable (UInt8) -> Void) {
        tcgetattr(0, &saved)
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(0, TCSANOW, &raw)
        // No keyboard thread, no keys: the prompt still ends by itself (its window, a force).
        try? DetachedThread.start(name: "agentctl-keys") {
            var byte: UInt8 = 0
            while read(0, &byte, 1) == 1 { feed(byte) }
        }
    }

    func restore() {
        tcsetattr(0, TCSANOW, &saved)
    }
}
