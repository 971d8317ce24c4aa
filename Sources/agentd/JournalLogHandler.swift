import Foundation
import Logging

/// One line an event on stderr. Under systemd (`JOURNAL_STREAM` set) each line starts with its
/// syslog priority (`<3>`), which journald reads as the entry's priority and strips, and carries no
/// timestamp of its own (the journal adds one); elsewhere it starts with an ISO 8601 time.
struct JournalLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    private let toJournal: Bool

    init(environment: [String: String]) {
        toJournal = environment["JOURNAL_STREAM"] != nil
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = toJournal ? "<\(Self.priority(event.level))>" : "\(Date().formatted(.iso8601)) \(event.level) "
        line += "\(event.source): \(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if !merged.isEmpty {
            line += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// syslog priorities, as sd-daemon(3) prefixes them.
    private static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
