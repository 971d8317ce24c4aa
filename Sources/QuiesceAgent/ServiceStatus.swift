import QuiesceCore

/// The agent's state in a few words, as `systemctl --user status quiesce` shows it on its
/// `Status:` line: "idle", "syncing 2 files, 14 queued", "draining: 1 session, 1 copy; 23 s left",
/// "asking the user", "stopping".
public enum ServiceStatus {
    /// - Parameters:
    ///   - values: the agent's properties now.
    ///   - now: Unix milliseconds, to turn the deadline into seconds left.
    public static func text(_ values: StatusBoard.Values, now: Int64) -> String {
        let work = [
            counted(values.activeSessions, "session", "sessions"), counted(values.inFlightJobs, "copy", "copies"),
        ].compactMap { $0 }.joined(separator: ", ")
        switch values.state {
        case .starting:
            return "starting"
        case .running:
            var parts: [String] = []
            if values.activeSessions > 0 { parts.append("\(counted(values.activeSessions, "session", "sessions")!) open") }
            if values.inFlightJobs > 0 { parts.append("syncing \(counted(values.inFlightJobs, "file", "files")!)") }
            if values.queuedJobs > 0 { parts.append("\(values.queuedJobs) queued") }
            if values.queuedJobs > 0, !values.syncWaiting.isEmpty { parts.append("waiting: \(values.syncWaiting)") }
            return parts.isEmpty ? "idle" : parts.joined(separator: ", ")
        case .draining:
            guard !work.isEmpty else { return "draining" }
            var text = "draining: \(work)"
            if values.deadline > 0 { text += "; \(max(0, (values.deadline - now + 999) / 1000)) s left" }
            return text
        case .prompting:
            return work.isEmpty ? "asking the user" : "asking the user: \(work) still running"
        case .stopping, .stopped:
            return "stopping"
        case .failed:
            return "failed to start"
        }
    }

    private static func counted(_ count: Int, _ one: String, _ many: String) -> String? {
        count > 0 ? "\(count) \(count == 1 ? one : many)" : nil
    }
}
