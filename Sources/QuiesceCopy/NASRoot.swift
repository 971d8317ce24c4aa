import Glibc

/// The mounted directory jobs copy into, and the only place they may write.
///
/// Destinations are resolved by walking from an open descriptor of the root, one component at a
/// time, with `openat(…, O_DIRECTORY | O_NOFOLLOW)`: a `..`, an absolute path or a symbolic link
/// anywhere in the destination cannot lead outside the root, whatever the string looks like and
/// whatever changes on disk between the check and the write. swift-system has no `*at` calls, so
/// this uses Glibc directly.
public struct NASRoot: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// What a network filesystem answers when its server is gone: sshfs says `ENOTCONN` once it
    /// gives up, a reconnecting one `EIO` while it cannot reach the server; NFS and CIFS say the others.
    static let lostConnection: Set<Int32> = [ENOTCONN, EIO, ETIMEDOUT, EHOSTDOWN, EHOSTUNREACH, ENETUNREACH, ECONNREFUSED, ECONNRESET]

    /// Opens the root directory. The caller closes the descriptor.
    func openRoot() throws(CopyError) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if Self.lostConnection.contains(code) { throw .nasUnreachable(path: path, reason: describe(code)) }
            throw .nasRootUnavailable(path: path, reason: code == ENOTDIR ? "not a directory" : describe(code))
        }
        return fd
    }

    /// Why copies cannot go into the root now, or nil when they can: it is missing, not a
    /// directory, or — with `requireMount` — on the same filesystem as `/` or as `localDirectory`
    /// (the agent's own state), which is what an empty mount point with nothing mounted on it looks
    /// like. Without that check such a copy would land on the local disk and look done.
    func unavailability(requireMount: Bool, localDirectory: String?) -> CopyError? {
        let fd: Int32
        do {
            fd = try openRoot()
        } catch {
            return error
        }
        // Opening a network filesystem's root may be answered without its server (sshfs does);
        // statfs asks the server, so a server that is gone is found here, not half-way into a copy.
        var info = statvfs()
        let asked = fstatvfs(fd, &info) == 0 ? 0 : errno
        close(fd)
        if Self.lostConnection.contains(asked) { return .nasUnreachable(path: path, reason: describe(asked)) }
        guard requireMount else { return nil }
        for local in ["/", localDirectory].compactMap({ $0 }) where sharesFilesystem(with: local) {
            return .nasRootNotMounted(path: path, sameAs: local)
        }
        return nil
    }

    /// Whether the root lies on the same filesystem as `localDirectory`: what an unmounted mount
    /// point looks like (checked with `requireMount`, and worth a word at start without it).
    public func sharesFilesystem(with localDirectory: String) -> Bool {
        var root = stat()
        var local = stat()
        return stat(path, &root) == 0 && stat(localDirectory, &local) == 0 && root.st_dev == local.st_dev
    }

    /// Opens the directory `destination` (relative to the root), creating missing directories
    /// when `create` is set. The caller closes the descriptor.
    /// - Throws: ``CopyError/escapesRoot(destination:component:reason:)`` for `..`, absolute
    ///   paths, and any component that is a link or not a directory.
    func openDirectory(_ destination: String, create: Bool) throws(CopyError) -> Int32 {
        guard !destination.hasPrefix("/") else {
            throw .escapesRoot(destination: destination, component: destination, reason: "is an absolute path")
        }
        var current = try openRoot()
        var walked = ""
        for component in destination.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
            let name = String(component)
            walked = walked.isEmpty ? name : "\(walked)/\(name)"
            guard name != ".." else {
                close(current)
                throw .escapesRoot(destination: destination, component: "'..'", reason: "climbs out of the NAS root")
            }
            var next = openat(current, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT && create {
                if mkdirat(current, name, 0o755) != 0 && errno != EEXIST {
                    let code = errno
                    close(current)
                    throw Self.writeError(code, path: "\(path)/\(walked)")
                }
                next = openat(current, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            guard next >= 0 else {
                let code = errno
                // Linux answers ENOTDIR rather than ELOOP for O_DIRECTORY | O_NOFOLLOW on a link:
                // look at the entry itself to say which it is.
                var info = stat()
                let isLink = fstatat(current, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFLNK
                close(current)
                switch code {
                case ELOOP:
                    throw .escapesRoot(destination: destination, component: walked, reason: "is a symbolic link")
                case ENOTDIR where isLink:
                    throw .escapesRoot(destination: destination, component: walked, reason: "is a symbolic link")
                case ENOTDIR:
                    throw .escapesRoot(destination: destination, component: walked, reason: "is not a directory")
                default:
                    throw .io(operation: "opening", path: "\(path)/\(walked)", reason: describe(code))
                }
            }
            close(current)
            current = next
        }
        return current
    }

    /// Maps a failed write-side call onto the error the user should see.
    static func writeError(_ code: Int32, path: String) -> CopyError {
        switch code {
        case ENOSPC, EDQUOT: .noSpace(path: path)
        case EROFS, EACCES, EPERM: .nasReadOnly(path: path, reason: describe(code))
        case ENOENT: .nasRootUnavailable(path: path, reason: describe(code))
        default: .io(operation: "writing", path: path, reason: describe(code))
        }
    }

    /// The name a copy is written under before it is complete: `.<name>.quiesce-partial`.
    public static func partialName(for name: String) -> String {
        ".\(name).quiesce-partial"
    }

    /// Removes the partial file a copy of `name` into `destination` may have left. Best effort:
    /// returns whether there is certainly none left.
    @discardableResult
    public func removePartial(name: String, destination: String) -> Bool {
        guard let directory = try? openDirectory(destination, create: false) else { return false }
        defer { close(directory) }
        return unlinkat(directory, Self.partialName(for: name), 0) == 0 || errno == ENOENT
    }
}
