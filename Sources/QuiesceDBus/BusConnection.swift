import CDBus

#if canImport(Glibc)
import Glibc
#endif
import QuiesceThreads
import Synchronization

/// A private connection to a message bus (or a peer at an address), with its own event loop.
///
/// Loop model (measured on these machines, see the brief and docs/architecture.md): every libdbus
/// call on this connection runs on one serial queue. The socket and libdbus's timeouts are waited
/// for by a thread of the connection's own (``WatchPoller``), which handles what is due on the
/// queue, inline. Callbacks libdbus makes while holding its connection lock
/// never call back into the connection; they schedule the work on the queue instead. Replies to
/// calls arrive through `DBusPendingCall` notifications, bridged to `async`. Nothing polls.
///
/// An open connection lives until ``close()``: the loop's registrations keep it alive, the way an
/// open socket stays open. Close it when done.
///
/// `@unchecked Sendable`: the raw connection and the tables below are touched only on `queue`.
public final class BusConnection: @unchecked Sendable {
    let raw: OpaquePointer
    let queue: SerialQueue

    /// The connection's unique name on the bus (`:1.42`), or nil for a peer connection.
    public let uniqueName: String?

    /// The thread that waits for the socket; started right after connecting, stopped by ``close()``.
    let poller: WatchPoller
    /// Callers off the connection's thread wait a moment for their reply before suspending.
    let replyWait: ReplyWait?
    /// Our method handlers running now (see ``handlersFinished()``).
    let handlers = HandlersInProgress()

    // Confined to `queue`.
    /// The libdbus watches registered now (as numbers, see ``WatchPoller``).
    var watches: Set<UInt> = []
    /// The libdbus timeouts registered now.
    var timeouts: Set<UInt> = []
    /// True while the queue is inside libdbus handling the socket or a timeout, after which it
    /// dispatches anyway: a dispatch scheduled meanwhile would only wake a thread for nothing.
    var dispatchFollows = false
    var subscriptions: [UInt64: Subscription] = [:]
    var nextSubscription: UInt64 = 0
    var objects: [String: ExportedObject] = [:]
    var disconnectHandlers: [@Sendable () -> Void] = []
    /// Calls sent and not yet answered, so close() can fail them: once the loop stops, libdbus
    /// would never report their replies.
    var outstanding: [ObjectIdentifier: PendingReply] = [:]
    var closed = false
    /// Set by ``leaving()``: subscriptions that end from then on do not tell the bus.
    var leavingSoon = false

    struct Subscription {
        let rules: [MatchRule]
        let continuation: AsyncStream<DBusMessage>.Continuation
    }

    private static let threadsReady: Bool = dbus_threads_init_default() != 0

    private init(raw: OpaquePointer, queue: SerialQueue, uniqueName: String?, poller: WatchPoller) {
        self.raw = raw
        self.queue = queue
        self.uniqueName = uniqueName
        self.poller = poller
        replyWait = ReplyWait(connection: raw)
    }

    deinit {
        // Only reached after close(): until then libdbus's registrations keep the connection alive.
        dbus_connection_unref(raw)
    }

    // MARK: Opening

    /// The session bus of `DBUS_SESSION_BUS_ADDRESS`.
    ///
    /// Without `DBUS_SESSION_BUS_ADDRESS`, the user bus at `$XDG_RUNTIME_DIR/bus` when it exists, as
    /// libdbus and sd-bus look for it: a systemd user manager need not export the address to its
    /// units.
    public static func session(environment: [String: String]) async throws(DBusError) -> BusConnection {
        try await open(address: try sessionAddress(environment: environment), label: "session bus")
    }

    /// Where the session bus is (see ``session(environment:)``).
    static func sessionAddress(environment: [String: String]) throws(DBusError) -> String {
        try sessionAddress { environment[$0] }
    }

    /// Where the session bus is, with the environment's variables read by `variable`.
    static func sessionAddress(_ variable: (String) -> String?) throws(DBusError) -> String {
        if let address = variable("DBUS_SESSION_BUS_ADDRESS"), !address.isEmpty {
            return address
        }
        if let runtime = variable("XDG_RUNTIME_DIR"), runtime.hasPrefix("/"), access(runtime + "/bus", F_OK) == 0 {
            return "unix:path=\(runtime)/bus"
        }
        throw DBusError(
            name: .failed,
            message: "no session bus: DBUS_SESSION_BUS_ADDRESS is not set and there is no $XDG_RUNTIME_DIR/bus (run inside a desktop session, or under dbus-run-session)")
    }

    /// The system bus of `DBUS_SYSTEM_BUS_ADDRESS` (default `/run/dbus/system_bus_socket`).
    public static func system(environment: [String: String]) async throws(DBusError) -> BusConnection {
        let address = environment["DBUS_SYSTEM_BUS_ADDRESS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "unix:path=/run/dbus/system_bus_socket"
        return try await open(address: address, label: "system bus")
    }

    /// Opens a private connection to `address` and, with `register`, says Hello to the bus there.
    public static func open(address: String, register: Bool = true, label: String = "bus") async throws(DBusError) -> BusConnection {
        try await open(address: address, register: register, label: label, poller: { () throws(DBusError) in try WatchPoller.make() })
    }

    /// ``open(address:register:label:)`` with the poller made by `poller` (tests make one whose
    /// system calls fail).
    static func open(
        address: String, register: Bool, label: String, poller: @escaping @Sendable () throws(DBusError) -> WatchPoller
    ) async throws(DBusError) -> BusConnection {
        guard threadsReady else { throw DBusError(name: .noMemory, message: "libdbus could not initialise threads") }
        let queue = SerialQueue(label: "quiesce-dbus")
        let result: Result<BusConnection, DBusError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(DBusError) -> BusConnection in
                    try connect(address: address, register: register, label: label, queue: queue, poller: poller)
                })
            }
        }
        return try result.get()
    }

    /// Runs on `queue`: connecting and Hello block briefly, never on the cooperative pool.
    private static func connect(
        address: String, register: Bool, label: String, queue: SerialQueue, poller makePoller: () throws(DBusError) -> WatchPoller
    ) throws(DBusError) -> BusConnection {
        let poller = try makePoller()
        let (raw, unique) = try openPrivate(address: address, register: register, label: label)
        let connection = BusConnection(raw: raw, queue: queue, uniqueName: unique, poller: poller)
        do {
            try connection.installLoop()
        } catch {
            connection.closed = true
            dbus_connection_close(raw)
            throw DBusError(name: error.name, message: "cannot use the \(label): \(error.message)")
        }
        return connection
    }

    /// A private connection to `address`, having said Hello when `register`; errors name the bus
    /// by `label`. Shared with ``BlockingBusConnection``.
    static func openPrivate(address: String, register: Bool, label: String) throws(DBusError) -> (OpaquePointer, String?) {
        var error = quiesce_dbus_error_make()
        guard let raw = dbus_connection_open_private(address, &error) else {
            let failure = DBusError(consuming: &error)
            throw DBusError(name: failure.name, message: "cannot connect to the \(label) at \(address): \(failure.message)")
        }
        // A bus that goes away must be an event for us, never an exit() inside libdbus.
        dbus_connection_set_exit_on_disconnect(raw, 0)
        if register && dbus_bus_register(raw, &error) == 0 {
            let failure = DBusError(consuming: &error)
            dbus_connection_close(raw)
            dbus_connection_unref(raw)
            throw DBusError(name: failure.name, message: "the \(label) refused us: \(failure.message)")
        }
        return (raw, register ? dbus_bus_get_unique_name(raw).map { String(cString: $0) } : nil)
    }

    /// A call's timeout as libdbus takes it.
    static func milliseconds(_ timeout: Duration) -> Int32 {
        Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Whether the caller is already on this connection's queue.
    var onQueue: Bool { queue.isCurrent }

    /// Runs `body` on the queue and waits for it (at once when already there).
    func sync<T>(_ body: () throws(DBusError) -> T) throws(DBusError) -> T {
        if onQueue { return try body() }
        let result: Result<T, DBusError> = queue.sync { Result { () throws(DBusError) -> T in try body() } }
        return try result.get()
    }

    /// The connection's own thread as a task executor: a task that prefers it
    /// (`withTaskExecutorPreference(connection.executor) { … }`) is resumed by a reply on the
    /// thread that read it, instead of being handed to the cooperative pool — for a client that
    /// makes calls one after another (a command-line tool), that is about a fifth of each round
    /// trip. Only for code that does not block: while it runs, the connection reads nothing.
    /// After ``close()`` such a task carries on on the global executor.
    public var executor: any TaskExecutor { poller }

    // MARK: Sending

    /// Sends a message that expects no reply (a signal, a reply).
    public func send(_ message: DBusMessage) throws(DBusError) {
        try sync { () throws(DBusError) in
            guard !closed, dbus_connection_get_is_connected(raw) != 0 else {
                throw DBusError(name: .disconnected, message: "the connection is closed")
            }
            guard dbus_connection_send(raw, message.handle, nil) != 0 else {
                throw DBusError(name: .noMemory, message: "cannot queue a message")
            }
        }
    }

    /// Calls a method and returns its reply; an error reply is thrown with its D-Bus name.
    /// - Parameter timeout: how long the peer may take before the call fails with `NoReply`.
    public func call(_ message: DBusMessage, timeout: Duration = .seconds(25)) async throws(DBusError) -> DBusMessage {
        let milliseconds = Self.milliseconds(timeout)
        let box = PendingReply()
        // Off the connection's thread, the reply is first waited for in this thread (see
        // ReplyWait): sent, then watched for a moment.
        var sent = false
        if let replyWait, !onQueue, !poller.isCurrentThread, !Task.isCancelled {
            begin(message, timeout: milliseconds, box: box)
            if let reply = replyWait.reply(to: box) { return try reply.get().checkedReply() }
            sent = true
        }
        let reply: Result<DBusMessage, DBusError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                box.set(continuation)
                if !sent { begin(message, timeout: milliseconds, box: box) }
            }
        } onCancel: {
            queue.async { box.cancel() }
        }
        return try reply.get().checkedReply()
    }

    /// Sends `message` now, from whatever thread — the connection's queue included (a
    /// `callerSeen` hook, which must not block) — and returns its reply to await later, once.
    /// For a call that should leave with the message that prompted it, not after a task started
    /// for it has been scheduled. Cancelling the awaiting task does not cancel the call.
    public func callStarted(_ message: DBusMessage, timeout: Duration = .seconds(25)) -> StartedCall {
        let box = PendingReply()
        begin(message, timeout: Self.milliseconds(timeout), box: box)
        return StartedCall(box: box)
    }

    /// Sends `message` for `box` now: right here when already on the queue, otherwise from the
    /// caller's thread (dispatch runs a sync block inline when the queue is free: a hop to a queue
    /// thread would cost a wake-up per call).
    private func begin(_ message: DBusMessage, timeout: Int32, box: PendingReply) {
        if onQueue {
            start(message, timeout: timeout, box: box)
        } else {
            queue.sync { start(message, timeout: timeout, box: box) }
        }
    }

    private func start(_ message: DBusMessage, timeout: Int32, box: PendingReply) {
        guard !box.isDone else { return }
        guard !closed, dbus_connection_get_is_connected(raw) != 0 else {
            box.finish(.failure(.disconnected("the connection is closed")))
            return
        }
        var pending: OpaquePointer?
        guard dbus_connection_send_with_reply(raw, message.handle, &pending, timeout) != 0, let pending else {
            box.finish(.failure(.disconnected("the bus connection is gone")))
            return
        }
        box.attach(pending)
        // Answered calls are dropped in batches, not one by one on the hot path.
        if outstanding.count >= 64 { outstanding = outstanding.filter { !$0.value.isDone } }
        outstanding[ObjectIdentifier(box)] = box
        let retained = Unmanaged.passRetained(box).toOpaque()
        let notify: DBusPendingCallNotifyFunction = { pending, data in
            guard let pending, let data else { return }
            let box = Unmanaged<PendingReply>.fromOpaque(data).takeUnretainedValue()
            if let reply = dbus_pending_call_steal_reply(pending) {
                box.finish(.success(DBusMessage(adopting: reply)))
            } else {
                box.finish(.failure(DBusError(name: .noReply, message: "no reply within the call's timeout", kind: .timedOut)))
            }
        }
        let free: DBusFreeFunction = { data in
            guard let data else { return }
            Unmanaged<PendingReply>.fromOpaque(data).release()
        }
        if dbus_pending_call_set_notify(pending, notify, retained, free) == 0 {
            Unmanaged<PendingReply>.fromOpaque(retained).release()
            box.finish(.failure(DBusError(name: .noMemory, message: "cannot wait for a reply")))
            return
        }
        if dbus_pending_call_get_completed(pending) != 0, let reply = dbus_pending_call_steal_reply(pending) {
            box.finish(.success(DBusMessage(adopting: reply)))
        }
    }

    // MARK: Closing

    /// Something to run once when the bus connection is lost (the bus died or closed us).
    public func onDisconnect(_ handler: @escaping @Sendable () -> Void) {
        queue.async { self.disconnectHandlers.append(handler) }
    }

    /// Whether the connection is still up.
    public var isConnected: Bool {
        (try? sync { () throws(DBusError) -> Bool in !closed && dbus_connection_get_is_connected(raw) != 0 }) ?? false
    }

    /// Closes the connection: subscriptions end, pending calls fail, exported objects go away.
    public func close() {
        try? sync { () throws(DBusError) in
            guard !closed else { return }
            closed = true
            dbus_connection_flush(raw)
            dbus_connection_close(raw)
            tearDownLoop()
            for box in outstanding.values {
                box.finish(.failure(DBusError(name: .disconnected, message: "the connection was closed before the reply came")))
            }
            outstanding = [:]
        }
    }
}

/// A call sent by ``BusConnection/callStarted(_:timeout:)``, whose reply is awaited once.
public struct StartedCall: Sendable {
    fileprivate let box: PendingReply

    /// The reply; an error reply is thrown with its D-Bus name.
    public func reply() async throws(DBusError) -> DBusMessage {
        let result = await withCheckedContinuation { box.set($0) }
        return try result.get().checkedReply()
    }
}

/// One call waiting for its reply: resumed exactly once, by the reply, an error or cancellation.
/// Before it suspends, its caller may watch for the reply in its own thread (``ReplyWait``).
final class PendingReply: @unchecked Sendable {
    // Safe: every field is touched only under `lock`.
    private let lock = Mutex<State>(State())

    private struct State: @unchecked Sendable {
        // Safe: only ever read or written under the mutex that holds it.
        var continuation: CheckedContinuation<Result<DBusMessage, DBusError>, Never>?
        var pending: OpaquePointer?
        var done = false
        /// The result, kept when it came before the caller's continuation did: a task cancelled
        /// before it called can see its cancel (run on the queue, on another thread) finish the
        /// box before `set` stores the continuation; and a caller watching in its own thread
        /// takes it from here.
        var early: Result<DBusMessage, DBusError>?
        /// The eventfd of a caller asleep waiting for the result in its own thread.
        var waker: Int32?
        /// Whether `waker` was written (and must be read before it is used again).
        var woken = false

        /// The early result, taken.
        mutating func take() -> Result<DBusMessage, DBusError>? {
            defer { early = nil }
            return early
        }
    }

    var isDone: Bool { lock.withLock { $0.done } }

    func set(_ continuation: CheckedContinuation<Result<DBusMessage, DBusError>, Never>) {
        let early = lock.withLock { state -> Result<DBusMessage, DBusError>? in
            guard let early = state.early else {
                state.continuation = continuation
                return nil
            }
            state.early = nil
            return early
        }
        if let early { continuation.resume(returning: early) }
    }

    /// The result when it is in; otherwise `waker` is written when it comes, until ``unwatch(_:)``.
    func watch(with waker: Int32) -> Result<DBusMessage, DBusError>? {
        lock.withLock { state in
            guard state.early == nil else { return state.take() }
            state.waker = waker
            return nil
        }
    }

    /// Stops the watch of ``watch(with:)``, leaving `waker` unwritten; the result when it is in.
    func unwatch(_ waker: Int32) -> Result<DBusMessage, DBusError>? {
        let (result, woken) = lock.withLock { state in
            defer { state.waker = nil; state.woken = false }
            return (state.take(), state.woken)
        }
        if woken { ReplyWait.clear(waker) }
        return result
    }

    /// The result when it is in (taken: the caller returns it instead of suspending).
    func takeResult() -> Result<DBusMessage, DBusError>? {
        lock.withLock { $0.take() }
    }

    /// Keeps a reference to the pending call until it resolves (for cancellation).
    func attach(_ pending: OpaquePointer) {
        lock.withLock { $0.pending = pending }
    }

    func finish(_ result: Result<DBusMessage, DBusError>) {
        let (continuation, pending) = lock.withLock { state -> (CheckedContinuation<Result<DBusMessage, DBusError>, Never>?, OpaquePointer?) in
            guard !state.done else { return (nil, nil) }
            state.done = true
            if state.continuation == nil {
                state.early = result
                // Written under the lock, so that an unwatch that finds `woken` finds it written.
                if let waker = state.waker, !state.woken {
                    ReplyWait.signal(waker)
                    state.woken = true
                }
            }
            defer { state.continuation = nil; state.pending = nil }
            return (state.continuation, state.pending)
        }
        if let pending { dbus_pending_call_unref(pending) }
        // Resumed at once, from the middle of the poller's read: the caller's wake-up then
        // overlaps the rest of it. (Held back until the poller had let the queue go, so that a
        // caller calling again at once would not find it held, pool round trips measured 5–8 µs
        // slower: the wake-up takes longer than the rest of the read.)
        continuation?.resume(returning: result)
    }

    /// Called on the connection's queue when the caller's task is cancelled.
    func cancel() {
        let pending = lock.withLock { $0.pending }
        if let pending { dbus_pending_call_cancel(pending) }
        finish(.failure(DBusError(name: .cancelled, message: "the call was cancelled", kind: .cancelled)))
    }
}
