import Foundation
import QuiesceTestSupport
import Testing

/// Whether tests that mount filesystems can run: as root, or under CI, where a missing privilege
/// must fail loudly rather than skip.
let canMount = geteuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true"

/// A small tmpfs mounted for one test (ENOSPC, read-only filesystems), unmounted when dropped.
final class TmpfsMount {
    let path: String
    private let holder: TemporaryDirectory

    init(kilobytes: Int, readOnly: Bool = false) throws {
        holder = TemporaryDirectory("quiesce-tmpfs")
        path = holder.file("mnt")
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

    struct MountFailed: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
