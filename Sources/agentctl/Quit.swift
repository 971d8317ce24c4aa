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

    /// What the agent reports, as it changes.
    private enum Update: Sendable {
        case properties([String: DBusValue])
        case exited
        case key(UInt8)
        case tick
    }

    func run() async throws {
        try await Self.follow(force: force, timeout: timeout, noWait: noWait, json: json)
    }

    /// The command's body, for ArgumentParser and for ``FastPath`` (plain `agentctl quit`).
    static func follow(force: Bool = false, timeout: UInt32? = nil, noWait: Bool = false, json: Bool = false) async throws {
        let client = try await AgentClient.connect()
        guard let owner = await client.agentOwner() else {
            if json { printJSON(["outcome": "not running"]) } else { print("the agent is not running") }
            return
        }
        let terminal = isatty(0) == 1 && isatty(1) == 1 && !json && !noWait
        // Subscribed before asking, so nothing between the call and the first signal is missed;
        // one sequence for both, so the agent's last property change (its Outcome) is read before
        // its departure from the bus, in the order the bus delivered them.
        let signals = try await client.connection.signals(matchingAny: [
            MatchRule(sender: owner, interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged", path: AgentInterface.path),
            MatchRule(
                sender: "org.freedesktop.DBus", interface: "org.freedesktop.DBus", member: "NameOwnerChanged", path: "/org/freedesktop/DBus",
                arg0: AgentInterface.busName),
        ])

        var options: [String: DBusValue] = [:]
        if force { options["force"] = .boolean(true) }
        if let timeout { options["timeout"] = .uint32(timeout) }
        if terminal { options["interactive"] = .boolean(true) }
        var state = await client.properties() ?? [:]
        _ = try await client.call(.quit, [.vardict(options)])
        if noWait {
            if json { printJSON(["outcome": "requested"]) }
            return
        }

        let (updates, feed) = AsyncStream.makeStream(of: Update.self)
        let tasks = [
            Task {
                for await message in signals {
                    guard let arguments = try? message.arguments() else { continue }
                    if message.member == "PropertiesChanged", arguments.count == 3, let changed = arguments[1].vardict {
                        feed.yield(.properties(changed))
                    } else if message.member == "NameOwnerChanged", arguments.count == 3, arguments[2].string == "" {
                        feed.yield(.exited)
                    }
                }
            },
            Task {
                while !Task.isCancelled && terminal {
                    try? await Task.sleep(for: .seconds(1))
                    feed.yield(.tick)
                }
            },
        ]
        defer { tasks.forEach { $0.cancel() } }
        // The agent may have gone between our GetAll and the subscription taking effect.
        if await client.agentOwner() == nil { feed.yield(.exited) }

        let keyboard = terminal ? Keyboard(feed: { feed.yield(.key($0)) }) : nil
        defer { keyboard?.restore() }
        var display = Display(terminal: terminal)
        var workWhenStopping: UInt32?
        for await update in updates {
            switch update {
            case .properties(let changed):
                state.merge(changed) { $1 }
                if state[.state]?.string == "stopping", workWhenStopping == nil {
                    workWhenStopping = (state[.activeSessions]?.uint32 ?? 0) + (state[.inFlightJobs]?.uint32 ?? 0)
                }
                display.show(state)
            case .tick:
                display.show(state)
            case .key(let key):
                guard state[.state]?.string == "prompting" else { continue }
                let decision = key == UInt8(ascii: "f") || key == UInt8(ascii: "F") ? "force" : key == UInt8(ascii: "w") || key == UInt8(ascii: "W") ? "wait" : nil
                if let decision {
                    _ = try? await client.call(.answer, [.string(decision)])
                }
            case .exited:
                let work = workWhenStopping ?? (state[.activeSessions]?.uint32 ?? 0) + (state[.inFlightJobs]?.uint32 ?? 0)
                // The agent says how it stopped; counts are only a fallback for an agent that
                // vanished without saying so (it crashed, or was killed).
                let forced = state[.outcome]?.string.flatMap { $0.isEmpty ? nil : $0 == "forced" } ?? (work > 0)
                display.finish(forced ? "the agent quit; running work was cut off (copies resume at the next start)" : "the agent quit cleanly")
                if json { printJSON(["outcome": forced ? "forced" : "clean"]) }
                throw ExitCode(forced ? 3 : 0)
            }
        }
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
