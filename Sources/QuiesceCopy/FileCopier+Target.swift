import CFileSystem
import Glibc

/// Where a copy goes, chosen before its bytes are placed.
enum CopyTarget: Sendable, Hashable {
    /// Write the copy under `name`; `replace`: over what is there (ours, or the user's choice).
    case write(name: String, replace: Bool, outcome: CopyOutcome)
    /// Nothing to write: the same bytes are there already.
    case done(CopyResult)
}

/// The source's size and checksum, read only when a name on the NAS has to be compared with it
/// (most copies go to a free name and hash the source while they copy it).
struct SourceDigest {
    let descriptor: Int32
    let path: String
    let size: Int64
    var known: Digest?

    init(descriptor: Int32, path: String, size: Int64) {
        self.descriptor = descriptor
        self.path = path
        self.size = size
    }
}

/// How a rename to the chosen name went.
enum Placement: Sendable, Hashable {
    case placed
    /// The name was taken meanwhile: choose again.
    case taken
    case failed(errno: Int32)
}

/// What a name in the destination directory holds.
private enum Entry {
    case absent
    case file(size: Int64)
    /// A directory, a link, a device: never a copy's equal, never replaced unless the user said so.
    case other
}

extension FileCopier {
    /// How many conflict names are tried before giving up (a directory that full of conflicts
    /// needs a person, not a 101st name).
    static let maximumConflictNames = 100

    /// Chooses the name a copy lands under, following the rule that nothing on the NAS is
    /// replaced by surprise:
    /// - what this agent last wrote here from the same source, still holding exactly those bytes,
    ///   is replaced (a newer version of the same file, or the same one whose storing the NAS did
    ///   not confirm);
    /// - a free name is taken;
    /// - a name holding the same bytes as the source means the work is done (made durable first);
    /// - anything else is kept: per `onConflict`, the copy lands beside it under a conflict name,
    ///   replaces it, or the job fails.
    func target(
        for request: CopyRequest, in directory: Int32, source: inout SourceDigest, shownDirectory: String, abort: AbortFlag
    ) throws(CopyError) -> CopyTarget {
        if let previous = request.previous, case .file(let size) = try entry(previous.name, in: directory, shownDirectory),
            size == previous.size,
            try digest(of: previous.name, in: directory, shownDirectory, abort: abort) == Digest(size: previous.size, checksum: previous.checksum)
        {
            let ours = try digest(of: &source, abort: abort)
            if previous.confirmed, ours == Digest(size: previous.size, checksum: previous.checksum) {
                return .done(try identical(previous.name, digest: ours, in: directory, shownDirectory))
            }
            return .write(name: previous.name, replace: true, outcome: .replaced)
        }
        let name = request.name
        for attempt in 0...Self.maximumConflictNames {
            let candidate = attempt == 0 ? name : request.tag.name(for: name, attempt: attempt)
            switch try entry(candidate, in: directory, shownDirectory) {
            case .absent:
                return .write(name: candidate, replace: false, outcome: attempt == 0 ? .copied : .keptBoth)
            case .file(let size) where size == source.size:
                let ours = try digest(of: &source, abort: abort)
                if try digest(of: candidate, in: directory, shownDirectory, abort: abort) == ours {
                    return .done(try identical(candidate, digest: ours, in: directory, shownDirectory))
                }
            case .file, .other:
                break
            }
            guard attempt == 0 else { continue }
            switch request.onConflict {
            case .keepBoth: continue
            case .replace: return .write(name: name, replace: true, outcome: .replaced)
            case .fail: throw .conflict(path: "\(shownDirectory)/\(name)")
            }
        }
        throw .io(
            operation: "choosing a name for", path: "\(shownDirectory)/\(name)",
            reason: "\(Self.maximumConflictNames) conflict names are taken; tidy the folder, then: agentctl sync retry")
    }

    /// Moves the finished partial file to `name`: over what is there when `replacing`, otherwise
    /// only if the name is free, atomically: `RENAME_NOREPLACE` where the filesystem has it; where
    /// it does not (sshfs answers `EINVAL`), a hard link to the name (which fails if it is taken)
    /// and the partial name's removal; where neither works (no hard links), the name is checked
    /// just before a plain rename, which leaves one round trip in which a file created by someone
    /// else could be replaced.
    func place(_ partial: String, as name: String, replacing: Bool, in directory: Int32) -> Placement {
        if replacing {
            return renameat(directory, partial, directory, name) == 0 ? .placed : .failed(errno: errno)
        }
        if quiesce_rename_noreplace(directory, partial, directory, name) == 0 { return .placed }
        switch errno {
        case EEXIST:
            return .taken
        case EINVAL, ENOSYS, EOPNOTSUPP:
            if linkat(directory, partial, directory, name, 0) == 0 {
                // The partial name must go too, or it stays for good as a second link to the
                // landed file: a failed unlink (a server gone between the two calls) is a failed
                // placement. The retry finds the bytes under the name and removes the partial.
                guard unlinkat(directory, partial, 0) == 0 || errno == ENOENT else { return .failed(errno: errno) }
                return .placed
            }
            if errno == EEXIST { return .taken }
            var info = stat()
            if fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 { return .taken }
            guard errno == ENOENT else { return .failed(errno: errno) }
            return renameat(directory, partial, directory, name) == 0 ? .placed : .failed(errno: errno)
        case let code:
            return .failed(errno: code)
        }
    }

    /// The same bytes are already under `name`: made durable (they may have been written by a
    /// copy whose directory `fsync` failed), they are the copy.
    private func identical(_ name: String, digest: Digest, in directory: Int32, _ shownDirectory: String) throws(CopyError) -> CopyResult {
        let result = CopyResult(size: digest.size, checksum: digest.checksum, name: name, outcome: .identical)
        let shown = "\(shownDirectory)/\(name)"
        let file = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard file >= 0 else { throw .io(operation: "opening", path: shown, reason: describe(errno)) }
        defer { close(file) }
        guard fsync(file) == 0, fsync(directory) == 0 else {
            var landed = result.landing
            landed.confirmed = false
            throw .notDurable(path: shown, reason: "fsync: \(describe(errno))", landed: landed)
        }
        return result
    }

    private func entry(_ name: String, in directory: Int32, _ shownDirectory: String) throws(CopyError) -> Entry {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return .absent }
            throw .io(operation: "looking at", path: "\(shownDirectory)/\(name)", reason: describe(errno))
        }
        return info.st_mode & S_IFMT == S_IFREG ? .file(size: Int64(info.st_size)) : .other
    }

    private func digest(of name: String, in directory: Int32, _ shownDirectory: String, abort: AbortFlag) throws(CopyError) -> Digest {
        let shown = "\(shownDirectory)/\(name)"
        let file = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard file >= 0 else { throw .io(operation: "reading", path: shown, reason: describe(errno)) }
        defer { close(file) }
        return try checksum(of: file, path: shown, abort: abort)
    }

    private func digest(of source: inout SourceDigest, abort: AbortFlag) throws(CopyError) -> Digest {
        if let known = source.known { return known }
        let digest: Digest
        do {
            digest = try checksum(of: source.descriptor, path: source.path, abort: abort)
        } catch .io(_, let path, let reason) {
            throw .sourceUnreadable(path: path, reason: reason)
        }
        source.known = digest
        return digest
    }
}
