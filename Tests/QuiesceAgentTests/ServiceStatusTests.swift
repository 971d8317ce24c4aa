import Foundation
@testable import QuiesceAgent
import QuiesceCore
import QuiesceTestSupport
import Testing

/// The status line `systemctl --user status quiesce` shows, and how it reaches the manager.
/// (The manager itself reads it in `UserManagerTests`.)
@Suite("The service manager's status line")
struct ServiceStatusTests {
    private func values(_ state: Phase, sessions: Int = 0, copies: Int = 0, queued: Int = 0, waiting: String = "", deadline: Int64 = 0) -> StatusBoard.Values {
        var values = StatusBoard.Values()
        values.state = state
        values.activeSessions = sessions
        values.inFlightJobs = copies
        values.queuedJobs = queued
        values.syncWaiting = waiting
        values.deadline = deadline
        return values
    }

    @Test("the texts of the brief, one per phase")
    func texts() {
        let now: Int64 = 1_000_000
        #expect(ServiceStatus.text(values(.running), now: now) == "idle")
        #expect(ServiceStatus.text(values(.running, copies: 2, queued: 14), now: now) == "syncing 2 files, 14 queued")
        #expect(ServiceStatus.text(values(.running, sessions: 1, copies: 1), now: now) == "1 session open, syncing 1 file")
        #expect(ServiceStatus.text(values(.running, queued: 3, waiting: "sync.nas_root is not set"), now: now) == "3 queued, waiting: sync.nas_root is not set")
        #expect(ServiceStatus.text(values(.draining, sessions: 1, copies: 1, deadline: now + 22_100), now: now) == "draining: 1 session, 1 copy; 23 s left")
        #expect(ServiceStatus.text(values(.prompting, sessions: 2), now: now) == "asking the user: 2 sessions still running")
        #expect(ServiceStatus.text(values(.stopping), now: now) == "stopping")
        #expect(ServiceStatus.text(values(.starting), now: now) == "starting")
    }

    @Test("STATUS= datagrams reach NOTIFY_SOCKET (a path and an abstract name), once per change, on one line")
    func notifySocket() throws {
        let directory = TemporaryDirectory("quiesce-notify")
        for name in [directory.file("notify"), "@quiesce-notify-\(getpid())"] {
            let receiver = try DatagramReceiver(name)
            let notifier = ServiceManagerNotifier(environment: ["NOTIFY_SOCKET": name])
            #expect(notifier.isActive)
            notifier.status("idle")
            notifier.status("idle")
            notifier.status("draining: 1 session\nX=1")
            notifier.stopping("stopping")
            #expect(receiver.receiveAll() == ["STATUS=idle\n", "STATUS=draining: 1 session X=1\n", "STOPPING=1\nSTATUS=stopping\n"])
        }
        #expect(!ServiceManagerNotifier(environment: [:]).isActive, "not under systemd: nothing to tell")
        #expect(!ServiceManagerNotifier(environment: ["NOTIFY_SOCKET": "relative"]).isActive)
    }
}

/// A datagram socket bound at a path or an abstract name (`@…`), as systemd binds its notify socket.
private final class DatagramReceiver {
    let descriptor: Int32

    init(_ name: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(name.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.enumerated() { buffer[index] = byte }
        }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (path.first == 0 ? 0 : 1)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(length)) }
        }
        guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    deinit { close(descriptor) }

    /// Every datagram waiting now.
    func receiveAll() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard count > 0 else { return messages }
            messages.append(String(decoding: buffer[..<count], as: UTF8.self))
        }
    }
}
