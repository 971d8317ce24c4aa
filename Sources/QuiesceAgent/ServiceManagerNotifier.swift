#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Tells systemd what the agent is doing, so `systemctl --user status quiesce` says it
/// ("draining: 1 session, 1 copy; 23 s left"): `STATUS=` lines sent to `$NOTIFY_SOCKET`.
///
/// A few lines of our own over an `AF_UNIX` datagram socket rather than libsystemd's `sd_notify`
/// through a shim: the protocol is one datagram of `KEY=value` lines to the socket the environment
/// names (a path, or `@` for the abstract namespace), and libsystemd would be a second C library to
/// link and package for that, in a process that uses nothing else of it. Without `NOTIFY_SOCKET`
/// (not under systemd, or a unit without `NotifyAccess`) the notifier does nothing.
///
/// Sends never block (`MSG_DONTWAIT`): a manager too busy to read loses a status line, never the
/// agent's time.
final class ServiceManagerNotifier: Sendable {
    private struct Socket {
        let descriptor: Int32
        var address: sockaddr_un
        let length: socklen_t
        var lastStatus = ""
    }

    private let socket: Mutex<Socket?>

    /// - Parameter environment: the process environment; `NOTIFY_SOCKET` names the socket.
    init(environment: [String: String]) {
        socket = Mutex(Self.open(environment["NOTIFY_SOCKET"] ?? ""))
    }

    deinit {
        socket.withLock { socket in
            if let descriptor = socket?.descriptor { close(descriptor) }
        }
    }

    /// Whether there is a service manager to tell.
    var isActive: Bool { socket.withLock { $0 != nil } }

    /// Sends `STATUS=text` when it differs from the last one sent.
    func status(_ text: String) {
        socket.withLock { socket in
            guard var current = socket, current.lastStatus != text else { return }
            current.lastStatus = text
            socket = current
            Self.send("STATUS=\(Self.oneLine(text))\n", over: current)
        }
    }

    /// `STOPPING=1` with the status: the agent is on its way out by its own decision.
    func stopping(_ text: String) {
        socket.withLock { socket in
            guard var current = socket, current.lastStatus != text else { return }
            current.lastStatus = text
            socket = current
            Self.send("STOPPING=1\nSTATUS=\(Self.oneLine(text))\n", over: current)
        }
    }

    private static func oneLine(_ text: String) -> String {
        text.replacingNewlines()
    }

    private static func send(_ message: String, over socket: Socket) {
        var address = socket.address
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                sendto(socket.descriptor, bytes, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), address, socket.length)
            }
        }
    }

    /// The socket `NOTIFY_SOCKET` names: `/path`, or `@name` in the abstract namespace.
    private static func open(_ name: String) -> Socket? {
        guard name.hasPrefix("/") || name.hasPrefix("@") else { return nil }
        var path = Array(name.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A path needs its terminating NUL; an abstract name is exactly its bytes.
        guard path.count + (path.first == 0 ? 0 : 1) <= capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.enumerated() { buffer[index] = byte }
        }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (path.first == 0 ? 0 : 1)
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        return Socket(descriptor: descriptor, address: address, length: socklen_t(length))
    }
}

extension String {
    /// The text on one line: a status line must not smuggle in a second `KEY=`.
    fileprivate func replacingNewlines() -> String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
