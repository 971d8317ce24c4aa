/// The windows and policies of the shutdown protocol. Defaults are the brief's.
public struct ShutdownConfiguration: Sendable, Hashable {
    /// What happens when the window given after a Wait runs out too.
    public enum AfterWait: String, Sendable, Hashable, CaseIterable {
        /// Ask again (the default): the user stays in charge.
        case reprompt
        /// Force after one Wait, without asking again (the older behaviour).
        case force
    }

    /// Window for `agentctl quit`, D-Bus `Quit` and the first SIGINT. Default 30 s.
    public var quitTimeout: Duration
    /// Window for the first SIGTERM. Default 5 s: logout does not wait long.
    public var sigtermTimeout: Duration
    /// Rule 10: how long a prompt shown in a stop nobody at the agent asked for (SIGTERM, the
    /// desktop's end of session) waits for an answer. The agent has decided by the SIGTERM window
    /// + this after the first SIGTERM, or the quit window + this after `EndSession`. Default 15 s.
    public var answerTimeout: Duration
    /// What a Wait leads to when its window runs out. Default ``AfterWait/reprompt``.
    public var afterWait: AfterWait
    /// How long each component's stop may take before the coordinator moves on. Default 2 s.
    public var stopTimeout: Duration
    /// After teardown begins, the time by which the process must exit even if a component hangs.
    /// `nil` means ``stopTimeout`` + 2 s.
    public var hardExitDeadline: Duration?

    public init(
        quitTimeout: Duration = .seconds(30),
        sigtermTimeout: Duration = .seconds(5),
        answerTimeout: Duration = .seconds(15),
        afterWait: AfterWait = .reprompt,
        stopTimeout: Duration = .seconds(2),
        hardExitDeadline: Duration? = nil
    ) {
        self.quitTimeout = quitTimeout
        self.sigtermTimeout = sigtermTimeout
        self.answerTimeout = answerTimeout
        self.afterWait = afterWait
        self.stopTimeout = stopTimeout
        self.hardExitDeadline = hardExitDeadline
    }

    /// Rule 10's ceiling after the first SIGTERM: SIGTERM window + answer timeout.
    public var sigtermCeiling: Duration { sigtermTimeout + answerTimeout }

    /// Rule 10's ceiling after the desktop's `EndSession`: quit window + answer timeout.
    public var sessionEndCeiling: Duration { quitTimeout + answerTimeout }

    /// The longest a stop nobody at the agent asked for can take, from the first SIGTERM to the
    /// process's exit: the ceiling, then teardown within the hard exit deadline. A unit's
    /// `TimeoutStopSec` must be longer than this.
    public var longestUnaskedStop: Duration { sigtermCeiling + effectiveHardExitDeadline }

    /// The hard exit deadline in force: ``hardExitDeadline`` or ``stopTimeout`` + 2 s.
    public var effectiveHardExitDeadline: Duration {
        hardExitDeadline ?? stopTimeout + .seconds(2)
    }

    /// Checks every value; the error names the key and the bad value.
    public func validate() throws(ConfigurationError) {
        let windows: [(String, Duration)] = [
            ("shutdown.quit_timeout", quitTimeout),
            ("shutdown.sigterm_timeout", sigtermTimeout),
            ("shutdown.answer_timeout", answerTimeout),
            ("shutdown.stop_timeout", stopTimeout),
        ]
        for (key, value) in windows where value < .zero {
            throw ConfigurationError(key: key, value: value.quiesceFormatted, expected: "zero or more seconds")
        }
        if let hard = hardExitDeadline, hard < .zero {
            throw ConfigurationError(
                key: "shutdown.hard_exit_deadline", value: hard.quiesceFormatted, expected: "zero or more seconds")
        }
    }
}

/// A configuration value is out of range.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The configuration key, as in the file (`shutdown.quit_timeout`).
    public var key: String
    /// The value given.
    public var value: String
    /// What would have been accepted.
    public var expected: String

    public init(key: String, value: String, expected: String) {
        self.key = key
        self.value = value
        self.expected = expected
    }

    public var description: String {
        "configuration key \(key) has the value \(value); expected \(expected)"
    }
}
