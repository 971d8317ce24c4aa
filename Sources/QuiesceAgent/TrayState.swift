import QuiesceCore
import QuiesceDBus

/// The tray's pictures: one for each state a glance should tell apart.
enum TrayIcon: String, Sendable, Hashable, CaseIterable {
    case idle
    case syncing
    case paused
    /// Copies wait for the NAS (missing, not mounted, not configured).
    case waiting
    /// Quitting, asking the user, or jobs failed for good.
    case attention

    /// The icon's name in the hicolor theme (`status/io.github.quiesce.Agent-idle.svg`).
    var themeName: String { "io.github.quiesce.Agent-\(rawValue)" }
}

/// What the tray shows, derived from the agent's properties alone, so it follows the agent's
/// events and never needs a timer: the icon, the item's `Status`, and the state in words for the
/// tooltip and the menu's first line (GNOME's tray shows no tooltips).
struct TrayState: Sendable, Hashable {
    var icon: TrayIcon
    /// `Active` when idle or syncing, `NeedsAttention` while draining, prompting, waiting for the
    /// NAS or holding failed jobs. Never `Passive`: hosts hide passive items.
    var status: String
    /// "Syncing 2 files, 14 queued", "Waiting for the NAS at /mnt/nas", "Quitting: 1 session
    /// still running".
    var text: String
    var paused: Bool
    /// Whether the NAS folder can be opened (a root is set).
    var canOpenFolder: Bool

    init(_ values: StatusBoard.Values, nasRoot: String?) {
        paused = values.syncPaused
        canOpenFolder = nasRoot != nil
        let work = values.activeSessions + values.inFlightJobs
        let queued = values.queuedJobs > 0 ? ", \(values.queuedJobs) queued" : ""
        switch values.state {
        case .starting:
            (icon, status, text) = (.idle, "Active", "Starting")
        case .draining:
            (icon, status, text) = (.attention, "NeedsAttention", work > 0 ? "Quitting: \(Self.running(values)) still running" : "Quitting")
        case .prompting:
            (icon, status, text) = (.attention, "NeedsAttention", "Asking whether to force quit: \(Self.running(values)) still running")
        case .stopping, .stopped:
            (icon, status, text) = (.attention, "NeedsAttention", "Quitting")
        case .failed:
            (icon, status, text) = (.attention, "NeedsAttention", "Failed to start")
        case .running:
            let sessions = values.activeSessions > 0 ? "\(values.activeSessions) \(values.activeSessions == 1 ? "session" : "sessions") open" : ""
            if values.syncPaused {
                (icon, status, text) = (.paused, "Active", "Sync paused" + queued + (sessions.isEmpty ? "" : "; " + sessions))
            } else if values.queuedJobs > 0, !values.syncWaiting.isEmpty {
                let where_ = nasRoot.map { "Waiting for the NAS at \($0)" } ?? "Waiting: \(values.syncWaiting)"
                (icon, status, text) = (.waiting, "NeedsAttention", where_ + queued)
            } else if values.failedJobs > 0 {
                let failed = "\(values.failedJobs) \(values.failedJobs == 1 ? "copy" : "copies") failed"
                (icon, status, text) = (.attention, "NeedsAttention", failed + (values.inFlightJobs > 0 ? "; syncing \(Self.files(values.inFlightJobs))" : ""))
            } else if values.inFlightJobs > 0 {
                (icon, status, text) = (.syncing, "Active", "Syncing \(Self.files(values.inFlightJobs))" + queued)
            } else {
                // Sessions open are work of the user's, not the agent's: not "idle", just that.
                (icon, status, text) = (.idle, "Active", (sessions.isEmpty ? "Idle" : sessions) + queued)
            }
        }
    }

    var needsAttention: Bool { status == "NeedsAttention" }

    private static func files(_ count: Int) -> String { "\(count) \(count == 1 ? "file" : "files")" }

    private static func running(_ values: StatusBoard.Values) -> String {
        var parts: [String] = []
        if values.activeSessions > 0 { parts.append("\(values.activeSessions) \(values.activeSessions == 1 ? "session" : "sessions")") }
        if values.inFlightJobs > 0 { parts.append("\(values.inFlightJobs) \(values.inFlightJobs == 1 ? "copy" : "copies")") }
        return parts.joined(separator: ", ")
    }
}

/// Text for hosts that read markup (the tooltip: KDE, xfce) and mnemonics (menu labels:
/// libdbusmenu and GTK take `_` as an accelerator mark).
enum TrayText {
    /// `&`, `<`, `>` escaped: a file named "a<b>.mp4" shows as written.
    static func markup(_ text: String) -> String {
        text.escapingMarkup()
    }

    /// `_` doubled: "IMG_0042" does not become "IMG0042" with an underlined 0.
    static func label(_ text: String) -> String {
        String(text.flatMap { $0 == "_" ? ["_", "_"] : [$0] })
    }
}
