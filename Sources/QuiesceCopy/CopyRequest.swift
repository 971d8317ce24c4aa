/// What to do when a copy's name is taken on the NAS by something this agent did not write there
/// (`sync.on_conflict`).
public enum ConflictPolicy: String, Sendable, Hashable, CaseIterable {
    /// Keep what is there; the copy lands beside it under a conflict name (the default: nothing
    /// on the NAS is replaced by surprise).
    case keepBoth = "keep-both"
    /// Replace it (the user asked for a mirror).
    case replace
    /// Fail the job, keeping both files where they are; `agentctl sync retry` after the user decides.
    case fail
}

/// Where and when a conflict name says the copy came from: `IMG_0001 (conflict laptop 2026-11-30).JPG`.
public struct ConflictTag: Sendable, Hashable {
    /// The host the agent runs on (its short name).
    public var host: String
    /// The local date, `YYYY-MM-DD`.
    public var date: String

    public init(host: String, date: String) {
        self.host = host
        self.date = date
    }

    /// The `attempt`-th conflict name for `name` (1, 2, …): the tag goes before the extension, so
    /// the file still opens with the same program; a second conflict the same day gets a number.
    /// Names stay within Linux's 255 bytes by shortening the stem.
    public func name(for name: String, attempt: Int) -> String {
        let dot = name.lastIndex(of: ".").flatMap { $0 == name.startIndex ? nil : $0 }
        var stem = dot.map { String(name[..<$0]) } ?? name
        let suffix = dot.map { String(name[$0...]) } ?? ""
        let tag = attempt <= 1 ? " (conflict \(host) \(date))" : " (conflict \(host) \(date) \(attempt))"
        while stem.utf8.count + tag.utf8.count + suffix.utf8.count > 255, !stem.isEmpty {
            stem.removeLast()
        }
        return stem + tag + suffix
    }
}

/// What this agent last wrote into a directory of the NAS from one source: the only file it may
/// replace there without asking (a newer version of the same file), and only while it still holds
/// exactly these bytes.
public struct Landing: Sendable, Hashable {
    /// The name the copy has in the directory (the source's name, or a conflict name).
    public var name: String
    public var size: Int64
    /// `xxh64:` and 16 hex digits.
    public var checksum: String
    /// Whether the NAS confirmed it stored the copy (every `fsync` succeeded). An unconfirmed
    /// landing is written again even when its bytes read back right: after a failed `fsync` the
    /// page cache may show bytes the disk never got.
    public var confirmed: Bool

    public init(name: String, size: Int64, checksum: String, confirmed: Bool = true) {
        self.name = name
        self.size = size
        self.checksum = checksum
        self.confirmed = confirmed
    }
}

/// How a copy ended up on the NAS.
public enum CopyOutcome: String, Sendable, Hashable, CaseIterable {
    /// The name was free.
    case copied
    /// It replaced what this agent wrote there before from the same source (or, with
    /// `on_conflict: replace`, whatever was there).
    case replaced
    /// The same bytes were already there: nothing was written.
    case identical
    /// Something else had the name: kept, and the copy landed beside it under a conflict name.
    case keptBoth = "kept-both"
}

/// One file to copy into a directory of the NAS root.
public struct CopyRequest: Sendable, Hashable {
    /// Absolute path of the local file.
    public var source: String
    /// Directory relative to the NAS root; the file keeps its name.
    public var destination: String
    public var onConflict: ConflictPolicy
    /// What this agent last wrote into `destination` from `source`, if anything.
    public var previous: Landing?
    public var tag: ConflictTag

    public init(
        source: String, destination: String, onConflict: ConflictPolicy = .keepBoth, previous: Landing? = nil,
        tag: ConflictTag
    ) {
        self.source = source
        self.destination = destination
        self.onConflict = onConflict
        self.previous = previous
        self.tag = tag
    }

    /// The name the copy gets unless it conflicts: the source's last path component.
    public var name: String {
        String(source.split(separator: "/").last ?? "")
    }
}

/// What a verified copy wrote, and where.
public struct CopyResult: Sendable, Hashable {
    public var size: Int64
    /// `xxh64:` and 16 hex digits.
    public var checksum: String
    /// The name it has in the destination directory.
    public var name: String
    public var outcome: CopyOutcome

    public init(size: Int64, checksum: String, name: String, outcome: CopyOutcome) {
        self.size = size
        self.checksum = checksum
        self.name = name
        self.outcome = outcome
    }

    /// What the agent records as its own, to be replaced by the next version of the same source.
    public var landing: Landing { Landing(name: name, size: size, checksum: checksum) }
}
