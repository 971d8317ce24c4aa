import Glibc
public import QuiesceCopy
public import QuiesceStore

/// A local folder walked for the queue: every regular file below it, with the subfolder of the
/// destination it goes to, so the tree is kept on the NAS (`~/Pictures/2026` into `photos` gives
/// `photos/2026/…`).
///
/// What is not a regular file is not followed or copied, and is reported instead: symbolic links
/// (a link can lead out of the folder, or round in a loop), sockets, devices, FIFOs, subfolders
/// that cannot be read, names that are not UTF-8 (the queue and D-Bus carry text). None of them
/// stops the walk. A folder reached twice (a bind mount inside itself) is walked once.
///
/// Reads with `openat`/`fdopendir` relative to open descriptors and `O_NOFOLLOW`, so a folder
/// swapped for a link during the walk is not followed either. Blocking calls: run it on a thread
/// of its own.
public struct SourceTree: Sendable {
    /// Something in the folder that was not queued, and why.
    public struct Skipped: Sendable, Hashable {
        public var path: String
        public var reason: String
    }

    /// The folder itself cannot be walked.
    public struct Unreadable: Error, Sendable, Hashable {
        public var path: String
        public var reason: String
    }

    /// The folder, absolute.
    public let folder: String
    /// The destination given with it; the folder's own name is added below it.
    public let destination: String

    public init(folder: String, destination: String) {
        self.folder = folder.count > 1 && folder.hasSuffix("/") ? String(folder.dropLast()) : folder
        self.destination = destination
    }

    /// Where the folder's own files go: the destination, then the folder's name.
    var top: String {
        let name = folder.split(separator: "/").last.map(String.init) ?? ""
        return [destination, name].filter { !$0.isEmpty }.joined(separator: "/")
    }

    /// Walks the folder, handing `batch` up to `batchSize` files at a time, as the store queues
    /// them (``QuiesceStore/JobPack``: at most `partSize` files of one folder, in the order it
    /// lists them, so a file costs its name and not a path of its own), with what was skipped
    /// meanwhile. Stops between two batches when `abort` is raised (returns false then).
    /// - Throws: ``Unreadable`` when the folder itself cannot be opened; what `batch` throws.
    @discardableResult
    public func walk(
        batchSize: Int = 1000, partSize: Int = 1000, abort: AbortFlag, batch: ([JobPack], [Skipped]) throws -> Void
    ) throws -> Bool {
        let root = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw Unreadable(path: folder, reason: String(cString: strerror(errno))) }
        var pending: [(descriptor: Int32, path: String, destination: String)] = [(root, folder, top)]
        var seen: Set<[UInt64]> = []
        var parts: [JobPack] = []
        var files = 0
        var skipped: [Skipped] = []
        defer { for entry in pending { close(entry.descriptor) } }
        while let (descriptor, path, destination) = pending.popLast() {
            var info = stat()
            if fstat(descriptor, &info) == 0, !seen.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted {
                close(descriptor)
                skipped.append(Skipped(path: path, reason: "the same folder again (a bind mount inside itself?); walked once"))
                continue
            }
            guard let directory = fdopendir(descriptor) else {
                skipped.append(Skipped(path: path, reason: "cannot read the folder: \(String(cString: strerror(errno)))"))
                close(descriptor)
                continue
            }
            defer { closedir(directory) }
            var names: [String] = []
            func endPart() {
                if !names.isEmpty { parts.append(JobPack(directory: path, destination: destination, names: names)) }
                names.removeAll()
            }
            while true {
                errno = 0
                guard let entry = readdir(directory) else {
                    if errno != 0 { skipped.append(Skipped(path: path, reason: "cannot read the whole folder: \(String(cString: strerror(errno)))")) }
                    break
                }
                let found = withUnsafeBytes(of: &entry.pointee.d_name) { raw -> (name: String?, shown: String)? in
                    let bytes = UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: strnlen(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count))
                    if bytes.count == 1 && bytes[0] == 0x2E || bytes.count == 2 && bytes[0] == 0x2E && bytes[1] == 0x2E { return nil }
                    guard let name = String(validating: bytes, as: UTF8.self) else { return (nil, String(decoding: bytes, as: UTF8.self)) }
                    return (name, "")
                }
                guard let found else { continue }
                guard let name = found.name else {
                    skipped.append(Skipped(path: "\(path)/\(found.shown)", reason: "the name is not valid UTF-8, which the queue cannot carry; rename it"))
                    continue
                }
                switch kind(of: entry, in: dirfd(directory)) {
                case .file:
                    names.append(name)
                    files += 1
                    if names.count >= partSize { endPart() }
                case .folder:
                    let child = "\(path)/\(name)"
                    let opened = openat(dirfd(directory), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    if opened < 0 {
                        skipped.append(Skipped(path: child, reason: "cannot read the folder: \(String(cString: strerror(errno)))"))
                    } else {
                        pending.append((opened, child, "\(destination)/\(name)"))
                    }
                case .other(let what):
                    skipped.append(Skipped(path: "\(path)/\(name)", reason: what))
                case .gone(let reason):
                    skipped.append(Skipped(path: "\(path)/\(name)", reason: reason))
                }
                if files >= batchSize {
                    if abort.isRaised { return false }
                    endPart()
                    try batch(parts, skipped)
                    parts.removeAll(keepingCapacity: true)
                    files = 0
                    skipped.removeAll()
                }
            }
            endPart()
        }
        if abort.isRaised { return false }
        if !parts.isEmpty || !skipped.isEmpty { try batch(parts, skipped) }
        return true
    }

    private enum Kind {
        case file, folder
        case other(String)
        case gone(String)
    }

    /// What an entry is, from `readdir`'s type where the filesystem gives it, else `fstatat`
    /// without following links.
    private func kind(of entry: UnsafeMutablePointer<dirent>, in directory: Int32) -> Kind {
        var type = Int32(entry.pointee.d_type)
        if type == Int32(DT_UNKNOWN) {
            var info = stat()
            let found = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                fstatat(directory, raw.baseAddress!.assumingMemoryBound(to: CChar.self), &info, AT_SYMLINK_NOFOLLOW)
            }
            guard found == 0 else { return .gone("it went away during the walk: \(String(cString: strerror(errno)))") }
            type = switch info.st_mode & S_IFMT {
            case S_IFREG: Int32(DT_REG)
            case S_IFDIR: Int32(DT_DIR)
            case S_IFLNK: Int32(DT_LNK)
            case S_IFIFO: Int32(DT_FIFO)
            case S_IFSOCK: Int32(DT_SOCK)
            default: Int32(DT_CHR)
            }
        }
        switch type {
        case Int32(DT_REG): return .file
        case Int32(DT_DIR): return .folder
        case Int32(DT_LNK): return .other("a symbolic link; links are not followed (give its target instead)")
        case Int32(DT_FIFO): return .other("a FIFO, not a file")
        case Int32(DT_SOCK): return .other("a socket, not a file")
        default: return .other("a device, not a file")
        }
    }
}
