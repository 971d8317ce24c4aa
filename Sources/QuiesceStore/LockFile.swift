import Glibc

/// An exclusive `flock` on `<database>.lock`, holding the owner's pid, for as long as the store is
/// open.
///
/// The D-Bus name already keeps a second agent off the same bus; this keeps any second process off
/// the same database, whatever bus it is on, and tells the user which pid holds it.
final class LockFile: Sendable {
    let path: String
    private let descriptor: Int32

    init(path: String) throws(StoreError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .directoryUnusable(path: path, reason: String(cString: strerror(errno)))
        }
        // A lock can look taken for a moment after its owner let go: a child being spawned holds
        // a copy of every descriptor until its exec closes the close-on-exec ones, and an agent
        // restarted at once races the old one's exit. Half a second tells these from a real owner.
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            attempts += 1
            guard errno == EWOULDBLOCK || errno == EINTR, attempts < 50 else {
                let holder = Self.readPID(fd)
                close(fd)
                throw .lockedByAnotherProcess(path: path, pid: holder)
            }
            usleep(10_000)
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.path = path
        self.descriptor = fd
    }

    deinit {
        close(descriptor)
    }

    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &buffer, buffer.count - 1, 0)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        return Int32(text.trimmingCharacters(in: " \n"))
    }
}

extension String {
    /// Drops the given characters from both ends.
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
