/// The question the user is asked when the window runs out while work still runs.
public struct PromptQuestion: Sendable, Hashable {
    /// How many operations still run.
    public var count: Int
    /// What still runs, one line each, for the prompt's body.
    public var running: [String]

    public init(count: Int, running: [String]) {
        self.count = count
        self.running = running
    }

    /// "3 operations still running. Force quit anyway?"
    public var summary: String {
        let noun = count == 1 ? "operation" : "operations"
        return "\(count) \(noun) still running. Force quit anyway?"
    }

    /// "2 operations still running: exporting demo.mp4, copying IMG_0042.raw": the question's
    /// words on one line, for what shows only a line (the desktop's logout dialog). At most three
    /// items, then "and N more".
    public var sentence: String {
        let noun = count == 1 ? "operation" : "operations"
        guard !running.isEmpty else { return "\(count) \(noun) still running" }
        var items = running.prefix(3).joined(separator: ", ")
        if count > min(3, running.count) { items += ", and \(count - min(3, running.count)) more" }
        return "\(count) \(noun) still running: \(items)"
    }

    /// The running items, one a line, with "and N more" when the sources listed fewer than run.
    public var body: String {
        var lines = running
        if count > running.count {
            lines.append("and \(count - running.count) more")
        }
        return lines.joined(separator: "\n")
    }
}

/// How a prompt was answered.
public enum PromptAnswer: Sendable, Hashable, CustomStringConvertible {
    /// "Force quit": stop now; in-flight work is interrupted and resumes at next launch.
    case force
    /// "Wait": a fresh window; the prompt returns when it runs out (or the agent forces, with
    /// `after_wait = force`).
    case wait
    /// The prompt was closed without an answer (the notification dismissed). Counts as Wait.
    case dismissed
    /// The prompt cannot be shown or answered: no notification server, no `actions` capability,
    /// a server error, no terminal attached. When every prompt is unavailable the agent forces.
    case unavailable(String)

    public var description: String {
        switch self {
        case .force: "force"
        case .wait: "wait"
        case .dismissed: "dismissed"
        case .unavailable(let why): "unavailable (\(why))"
        }
    }
}

/// A way to ask the user "Force quit anyway?": a desktop notification, a terminal, a test script.
///
/// When several prompts are configured they are shown together and race: the first answer wins
/// and the others are withdrawn.
public protocol Prompt: Sendable {
    /// A short name for logs and events ("notification", "terminal").
    var name: String { get }

    /// Shows `question`, keeps it current with each question from `updates`, and returns the
    /// user's answer.
    ///
    /// Task cancellation withdraws the prompt: the coordinator cancels it the moment the idle
    /// predicate holds or another prompt's answer wins. An implementation must take the question
    /// down (close the notification, clear the line) before it returns; what it returns after
    /// cancellation is ignored. It returns ``PromptAnswer/unavailable(_:)`` at once when it cannot
    /// ask at all.
    func ask(_ question: PromptQuestion, updates: AsyncStream<PromptQuestion>) async -> PromptAnswer
}
