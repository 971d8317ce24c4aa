import Glibc
import Synchronization

/// A file descriptor with one owner, closed when the owner lets go.
///
/// D-Bus hands out file descriptors that mean something while they are open — a logind inhibitor
/// lock is released when every copy of its fd is closed — so an `h` argument is never a bare
/// `Int32` here. Closing twice is harmless.
public final class OwnedFD: Sendable, CustomStringConvertible {
    private let value: Mutex<Int32>

    /// Takes ownership of `descriptor`.
    public init(adopting descriptor: Int32) {
        value = Mutex(descriptor)
    }

    deinit {
        close()
    }

    /// The raw descriptor, or -1 once closed. Do not close it yourself.
    public var rawValue: Int32 { value.withLock { $0 } }

    public var isOpen: Bool { rawValue >= 0 }

    /// Closes the descriptor now (for a lock: releases it, if this was the last copy).
    public func close() {
        let descriptor = value.withLock { value -> Int32 in
            defer { value = -1 }
            return value
        }
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
    }

    /// A new descriptor for the same open file, owned separately.
    public func duplicate() throws(DBusError) -> OwnedFD {
        let copy = fcntl(rawValue, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw DBusError(name: .failed, message: "cannot duplicate fd: \(String(cString: strerror(errno)))") }
        return OwnedFD(adopting: copy)
    }

    public var description: String { "fd \(rawValue)" }
}
