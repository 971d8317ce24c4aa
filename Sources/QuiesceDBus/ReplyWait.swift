import CDBus
import Glibc
import Synchronization

/// A call's reply waited for in the calling thread, for a moment, before the call suspends.
///
/// Why: a task that suspends for its reply is resumed by the poller thread that read it, and on
/// the cooperative pool that resumption is a futex wake of another thread — measured 37–76 µs on
/// these machines (a virtual CPU woken from idle), on a local round trip of about 170 µs. A C
/// client blocked on its socket is woken once, by the kernel, as the reply arrives. So before
/// suspending, the caller sleeps in `poll(2)` on the connection's socket itself (sleeping in the
/// kernel, not spinning): the reply's arrival wakes it in the same instant as the poller, the
/// poller reads the reply, and the caller, already running, takes it from its ``PendingReply``
/// with no second wake-up. The poller still reads everything; the caller only watches.
///
/// Bounded, so that the pool never waits long for a peer: at most one millisecond (`poll`'s
/// granularity), after which the call suspends as it always did; and once a reply has taken
/// longer than that, the next ``coolDown`` calls on the connection suspend at once — a connection
/// whose peers take their time costs the pool 1 ms in 33 calls at most. Something other than the
/// reply on the socket (a signal, the first part of a long reply) wakes the caller too; it then
/// looks for its reply for up to ``spin``, yielding its CPU between looks (on two cores the poller
/// may need it), and if the reply is not in by then, suspends. Measured against variants that
/// slept on the eventfd instead of looking (1.18–1.25× the C client: that is the cross-thread wake
/// again) and with a third of the look (mixed), this one was the steadiest (1.07–1.12×).
///
/// Not used on the connection's own thread or queue (the executor path, and handlers), which must
/// do the reading.
final class ReplyWait: Sendable {
    /// The connection's socket; -1 once the connection is closed (`poll` skips it). Not a
    /// duplicate: that would keep the connection open for the bus after `close()`. A caller that
    /// read the number just before the close may watch whatever reuses it: at worst a spurious
    /// wake-up, since the reply itself is signalled through the ``PendingReply``.
    private let socket: Atomic<Int32>
    /// Eventfds a reply's arrival is signalled on when the poller reads it while a caller sleeps
    /// (the caller may have gone to sleep just after the socket was read); kept for reuse.
    private let wakers = Mutex<[Int32]>([])
    /// Calls still to suspend at once after a reply that came later than the wait.
    private let skipped = Atomic<Int>(0)

    /// How long a caller sleeps on the socket at most, in milliseconds.
    static let window: Int32 = 1
    /// How long a caller woken by the socket looks for its reply being read (a reply's read takes
    /// 24 µs at the median here).
    static let spin: Duration = .microseconds(60)
    /// Calls that suspend at once after a reply slower than ``window``.
    static let coolDown = 32

    /// Calls that will suspend at once before waiting again (the tests look).
    var callsToSuspend: Int { skipped.load(ordering: .relaxed) }

    /// Nil for a connection without a socket of its own.
    init?(connection raw: OpaquePointer) {
        var descriptor: Int32 = -1
        guard dbus_connection_get_unix_fd(raw, &descriptor) != 0, descriptor >= 0 else { return nil }
        socket = Atomic(descriptor)
    }

    deinit {
        for waker in wakers.withLock({ $0 }) { close(waker) }
    }

    /// The connection has closed its socket.
    func socketClosed() {
        socket.store(-1, ordering: .relaxed)
    }

    /// The reply of `box`'s call, when it comes within the wait; nil when the call should suspend.
    func reply(to box: PendingReply) -> Result<DBusMessage, DBusError>? {
        if skipped.load(ordering: .relaxed) > 0 {
            skipped.subtract(1, ordering: .relaxed)
            return nil
        }
        guard let waker = takeWaker() else { return nil }
        defer { giveBack(waker) }
        if let result = box.watch(with: waker) { return result }
        var descriptors = [
            pollfd(fd: socket.load(ordering: .relaxed), events: Int16(POLLIN), revents: 0),
            pollfd(fd: waker, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&descriptors, 2, Self.window)
        if let result = box.unwatch(waker) { return result }
        guard ready > 0 else {
            if ready == 0 { skipped.store(Self.coolDown, ordering: .relaxed) }
            return nil
        }
        // Something arrived: the poller is reading it. If it is the reply, it is microseconds away.
        let clock = ContinuousClock()
        let until = clock.now.advanced(by: Self.spin)
        while !box.isDone && clock.now < until { sched_yield() }
        return box.takeResult()
    }

    /// Wakes the caller asleep on `waker`.
    static func signal(_ waker: Int32) {
        var one: UInt64 = 1
        _ = write(waker, &one, MemoryLayout<UInt64>.size)
    }

    /// Reads `waker` back to zero, for its next use.
    static func clear(_ waker: Int32) {
        var count: UInt64 = 0
        _ = read(waker, &count, MemoryLayout<UInt64>.size)
    }

    private func takeWaker() -> Int32? {
        if let waker = wakers.withLock({ $0.popLast() }) { return waker }
        let waker = quiesce_wake_descriptor()
        return waker >= 0 ? waker : nil
    }

    private func giveBack(_ waker: Int32) {
        wakers.withLock { $0.append(waker) }
    }
}
