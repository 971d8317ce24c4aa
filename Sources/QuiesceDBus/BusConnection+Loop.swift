import CDBus
import QuiesceThreads

/// The event loop: libdbus's watches and timeouts waited for on the connection's poller thread
/// (``WatchPoller``), and handled on its queue.
extension BusConnection {
    /// A reference for one libdbus registration. Each registration holds the connection alive
    /// until libdbus frees it (when ``close()`` removes the registration), so a callback can
    /// never reach a connection that is being deallocated: an open connection lives until closed.
    private var context: UnsafeMutableRawPointer { Unmanaged.passRetained(self).toOpaque() }

    private static let releaseContext: DBusFreeFunction = { data in
        guard let data else { return }
        Unmanaged<BusConnection>.fromOpaque(data).release()
    }

    private static let filter: DBusHandleMessageFunction = { _, message, data in
        guard let message else { return DBUS_HANDLER_RESULT_NOT_YET_HANDLED }
        // Replies are libdbus's to hand to their pending calls: passed on without a wrapper of
        // ours made and dropped for each (every round trip's hot path).
        let type = Int32(dbus_message_get_type(message))
        guard type == QDBUS_MESSAGE_TYPE_SIGNAL || type == QDBUS_MESSAGE_TYPE_METHOD_CALL else {
            return DBUS_HANDLER_RESULT_NOT_YET_HANDLED
        }
        return BusConnection.connection(data).route(DBusMessage(adopting: dbus_message_ref(message)))
    }

    private static func connection(_ data: UnsafeMutableRawPointer?) -> BusConnection {
        Unmanaged<BusConnection>.fromOpaque(data!).takeUnretainedValue()
    }

    /// Runs on the queue, once, right after connecting.
    func installLoop() throws(DBusError) {
        try poller.start(WatchPoller.Handlers(
            watchReady: { [self] watch, flags in queue.sync { handleReady(watch, flags) } },
            timeoutDue: { [self] timeout in queue.sync { handleDue(timeout) } },
            failed: { [self] reason in queue.sync { loopFailed(reason) } }))
        let addWatch: DBusAddWatchFunction = { watch, data in
            guard let watch else { return 0 }
            BusConnection.connection(data).addWatch(watch)
            return 1
        }
        let removeWatch: DBusRemoveWatchFunction = { watch, data in
            guard let watch else { return }
            BusConnection.connection(data).removeWatch(watch)
        }
        let toggleWatch: DBusWatchToggledFunction = { watch, data in
            guard let watch else { return }
            BusConnection.connection(data).toggleWatch(watch)
        }
        dbus_connection_set_watch_functions(raw, addWatch, removeWatch, toggleWatch, context, Self.releaseContext)

        let addTimeout: DBusAddTimeoutFunction = { timeout, data in
            guard let timeout else { return 0 }
            BusConnection.connection(data).addTimeout(timeout)
            return 1
        }
        let removeTimeout: DBusRemoveTimeoutFunction = { timeout, data in
            guard let timeout else { return }
            BusConnection.connection(data).removeTimeout(timeout)
        }
        let toggleTimeout: DBusTimeoutToggledFunction = { timeout, data in
            guard let timeout else { return }
            BusConnection.connection(data).addTimeout(timeout)
        }
        dbus_connection_set_timeout_functions(raw, addTimeout, removeTimeout, toggleTimeout, context, Self.releaseContext)

        // Runs with libdbus's lock held: only schedule, never call into the connection here.
        let statusChanged: DBusDispatchStatusFunction = { _, status, data in
            guard status == DBUS_DISPATCH_DATA_REMAINS else { return }
            BusConnection.connection(data).scheduleDispatch()
        }
        dbus_connection_set_dispatch_status_function(raw, statusChanged, context, Self.releaseContext)
        // No wake-up-main function: libdbus calls it for every message sent, to make a main loop
        // look at its watches again, but ours learns of every watch change as it happens (the
        // watch functions above). Scheduling a dispatch there cost a thread wake-up per call.

        dbus_connection_add_filter(raw, Self.filter, context, Self.releaseContext)
        scheduleDispatch()
    }

    /// libdbus has messages to hand out. When we are in the middle of handling the socket or a
    /// timeout, we dispatch right after anyway; otherwise a queue hop does it.
    func scheduleDispatch() {
        if onQueue && dispatchFollows { return }
        queue.async { self.dispatchPending() }
    }

    /// Hands every message libdbus has read to the filter (and pending calls).
    func dispatchPending() {
        guard !closed else { return }
        while dbus_connection_get_dispatch_status(raw) == DBUS_DISPATCH_DATA_REMAINS {
            _ = dbus_connection_dispatch(raw)
        }
    }

    // MARK: Watches

    private func addWatch(_ watch: OpaquePointer) {
        watches.insert(UInt(bitPattern: watch))
        updateWatch(watch)
    }

    private func removeWatch(_ watch: OpaquePointer) {
        watches.remove(UInt(bitPattern: watch))
        poller.removeWatch(UInt(bitPattern: watch))
    }

    private func toggleWatch(_ watch: OpaquePointer) {
        updateWatch(watch)
    }

    private func updateWatch(_ watch: OpaquePointer) {
        poller.set(WatchPoller.Watch(
            key: UInt(bitPattern: watch), descriptor: dbus_watch_get_unix_fd(watch), flags: dbus_watch_get_flags(watch),
            enabled: dbus_watch_get_enabled(watch) != 0))
    }

    /// On the queue: the poller saw `watch` ready. It may have been removed since; then libdbus
    /// has freed it and it must not be touched.
    private func handleReady(_ watch: UInt, _ flags: UInt32) {
        guard !closed, watches.contains(watch), let pointer = OpaquePointer(bitPattern: watch) else { return }
        dispatchFollows = true
        _ = dbus_watch_handle(pointer, flags)
        dispatchFollows = false
        dispatchPending()
    }

    // MARK: Timeouts

    private func addTimeout(_ timeout: OpaquePointer) {
        let key = UInt(bitPattern: timeout)
        guard dbus_timeout_get_enabled(timeout) != 0 else {
            removeTimeout(timeout)
            return
        }
        timeouts.insert(key)
        poller.setTimeout(key, interval: .milliseconds(Int(dbus_timeout_get_interval(timeout))))
    }

    private func removeTimeout(_ timeout: OpaquePointer) {
        let key = UInt(bitPattern: timeout)
        timeouts.remove(key)
        poller.removeTimeout(key)
    }

    /// On the queue: a timeout is due (a call's reply is late, say). Same care as for watches.
    private func handleDue(_ timeout: UInt) {
        guard !closed, timeouts.contains(timeout), let pointer = OpaquePointer(bitPattern: timeout) else { return }
        dispatchFollows = true
        _ = dbus_timeout_handle(pointer)
        dispatchFollows = false
        dispatchPending()
    }

    // MARK: Routing incoming messages

    /// Signals go to matching subscriptions; method calls to exported objects. Runs on the queue
    /// during dispatch, outside libdbus's lock.
    private func route(_ message: DBusMessage) -> DBusHandlerResult {
        switch message.kind {
        case .signal:
            if message.interface == "org.freedesktop.DBus.Local" && message.member == "Disconnected" {
                connectionLost()
                return DBUS_HANDLER_RESULT_HANDLED
            }
            for subscription in subscriptions.values where subscription.rules.contains(where: { $0.matches(message) }) {
                subscription.continuation.yield(message)
            }
            return DBUS_HANDLER_RESULT_NOT_YET_HANDLED
        case .methodCall:
            handleMethodCall(message)
            return DBUS_HANDLER_RESULT_HANDLED
        default:
            return DBUS_HANDLER_RESULT_NOT_YET_HANDLED
        }
    }

    /// On the queue: the poller thread stopped waiting (its `poll` failed). The connection can
    /// neither read nor send any more: it is closed and reported lost like a bus that went away.
    private func loopFailed(_ reason: String) {
        guard !closed else { return }
        closed = true
        dbus_connection_close(raw)
        tearDownLoop()
        connectionLost(because: "the connection stopped (\(reason)) before the reply came")
    }

    private func connectionLost(because reason: String = "the bus went away before the reply came") {
        // No reply can come any more: fail every call still waiting rather than leave it to its
        // timeout (a quit that releases its bus name must not wait 25 s on a dead bus).
        for box in outstanding.values {
            box.finish(.failure(DBusError(name: .disconnected, message: reason)))
        }
        outstanding = [:]
        let handlers = disconnectHandlers
        disconnectHandlers = []
        for subscription in subscriptions.values { subscription.continuation.finish() }
        subscriptions = [:]
        for handler in handlers { handler() }
    }

    /// Runs on the queue: stops the loop and ends every subscription.
    func tearDownLoop() {
        dbus_connection_remove_filter(raw, Self.filter, Unmanaged.passUnretained(self).toOpaque())
        dbus_connection_set_watch_functions(raw, nil, nil, nil, nil, nil)
        dbus_connection_set_timeout_functions(raw, nil, nil, nil, nil, nil)
        dbus_connection_set_dispatch_status_function(raw, nil, nil, nil)
        watches = []
        timeouts = []
        poller.stop()
        replyWait?.socketClosed()
        for subscription in subscriptions.values { subscription.continuation.finish() }
        subscriptions = [:]
        objects = [:]
    }
}
