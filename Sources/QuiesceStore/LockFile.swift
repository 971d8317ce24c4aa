import Glibc
import Synchronization

/// An exclusive `flock` on `<database>.lock`, holding the owner's pid, for as long as the store is
/// open: ``release()`` at its close (the process may live on a while, and the next agent, started as
/// this one's name leaves the bus, is waiting for the file), or when the store goes.
///
/// The D-Bus name already keeps a second agent off the same bus; this keeps any second process off
/// the same database, whatever bus it is on, and tells the user which pid holds it.
final class LockFile: Sendable {
    let path: String
    /// -1 once released.
    private let descriptor: Atomic<Int32>

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
                let holder = Self.holder(of: fd)
                close(fd)
                throw .lockedByAnotherProcess(path: path, pid: holder)
            }
            usleep(10_000)
        }
        // Written over what was there, then cut to its length. Not truncated to nothing first:
        // ext4 takes a file cut to zero and written again for a file being replaced, and writes
        // it out when it is closed (`auto_da_alloc`) — 0.1 ms of every quit, on the path a
        // client waits on, for a file nobody needs on disk before the next start.
        let pid = "\(getpid())\n"
        let length = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        if length >= 0 { _ = ftruncate(fd, off_t(length)) }
        self.path = path
        self.descriptor = Atomic(fd)
    }

    deinit {
        release()
    }

    /// Lets the file go (once; later calls do nothing).
    func release() {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { close(fd) }
    }

    /// Who holds the lock: the kernel's own record (`/proc/locks`) when it can be read, else the
    /// pid the last owner wrote, if that process is still alive (a stale pid would send the user
    /// after the wrong process).
    private static func holder(of fd: Int32) -> Int32? {
        if let pid = kernelHolder(of: fd) { return pid }
        guard let written = readPID(fd), kill(written, 0) == 0 || errno == EPERM else { return nil }
        return written
    }

    /// The pid `/proc/locks` gives for the `FLOCK` on this file (lines look like
    /// `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`; waiters carry `->` and are skipped).
    private static func kernelHolder(of fd: Int32) -> Int32? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let device = UInt64(info.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        let wanted = String(major, radix: 16).leftPadded(2) + ":" + String(minor, radix: 16).leftPadded(2) + ":\(info.st_ino)"
        guard let file = fopen("/proc/locks", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let fields = String(cString: line).split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK", !fields.contains("->"), fields[5] == wanted else { continue }
            return Int32(fields[4])
        }
        return nil
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
    /// Zeros in front, up to `width` characters (how /proc/locks writes device numbers).
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }

    /// Drops the given characters from both ends.
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
