import Foundation

/// Whether tests that mount filesystems can run: as root, or under CI, where a missing privilege
/// must fail loudly rather than skip.
public let canMount = geteuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true"

/// A small tmpfs mounted for one test (ENOSPC, read-only filesystems, a NAS that goes away),
/// unmounted when dropped.
public final class TmpfsMount: @unchecked Sendable {
    // Safe: set once in init.
    public let path: String
    private let holder: TemporaryDirectory

    /// Mounts a tmpfs of `kilobytes` at `at` (an existing directory), or at a fresh one.
    public init(kilobytes: Int, readOnly: Bool = false, at mountPoint: String? = nil) throws {
        holder = TemporaryDirectory("quiesce-tmpfs")
        path = mountPoint ?? holder.file("mnt")
        mkdir(path, 0o755)
        let options = "size=\(kilobytes)k,mode=0755" + (readOnly ? ",ro" : "")
        let status = shell("mount -t tmpfs -o \(options) quiesce-test '\(path)'")
        guard status == 0 else {
            throw MountFailed(message: "mounting a tmpfs at \(path) failed (status \(status)); these tests need root: run make test as root")
        }
    }

    deinit {
        shell("umount -l '\(path)'")
    }

    /// Changes the mount's options in place (`ro`, `rw`, `size=…`): what a NAS that turns
    /// read-only or gets more room looks like to the agent.
    public func remount(_ options: String) throws {
        let status = shell("mount -o remount,\(options) '\(path)' 2>/dev/null")
        guard status == 0 else { throw MountFailed(message: "remounting \(path) with \(options) failed (status \(status))") }
    }

    public struct MountFailed: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }
}
