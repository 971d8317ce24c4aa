import CDBus
import Dispatch

/// The event loop: libdbus watches and timeouts as dispatch sources on the connection's queue.
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
        return BusConnection.connection(data).route(DBusMessage(adopting: dbus_message_ref(message)))
    }

    private static func connection(_ data: UnsafeMutableRawPointer?) -> BusConnection {
        Unmanaged<BusConnection>.fromOpaque(data!).takeUnretainedValue()
    }

    /// Runs on the queue, once, right after connecting.
    func installLoop() {
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
            let connection = BusConnection.connection(data)
            connection.removeTimeout(timeout)
            connection.addTimeout(timeout)
        }
        dbus_connection_set_timeout_functions(raw, addTimeout, removeTimeout, toggleTimeout, context, Self.releaseContext)

        // Both run with libdbus's lock held: only schedule, never call into the connection here.
        let statusChanged: DBusDispatchStatusFunction = { _, status, data in
            guard status == DBUS_DISPATCH_DATA_REMAINS else { return }
            BusConnection.connection(data).scheduleDispatch()
        }
        dbus_connection_set_dispatch_status_function(raw, statusChanged, context, Self.releaseContext)
        let wakeUp: DBusWakeupMainFunction = { data in
            BusConnection.connection(data).scheduleDispatch()
        }
        dbus_connection_set_wakeup_main_function(raw, wakeUp, context, Self.releaseContext)

        dbus_connection_add_filter(raw, Self.filter, context, Self.releaseContext)
        scheduleDispatch()
    }

    func scheduleDispatch() {
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
        let descriptor = dbus_watch_get_unix_fd(watch)
        let flags = dbus_watch_get_flags(watch)
        let source: any DispatchSourceProtocol
        if flags & QDBUS_WATCH_WRITABLE != 0 {
            source = DispatchSource.makeWriteSource(fileDescriptor: descriptor, queue: queue)
        } else {
            source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
        }
        source.setEventHandler { [unowned self] in
            guard !self.closed else { return }
            _ = dbus_watch_handle(watch, flags)
            self.dispatchPending()
        }
        let entry = WatchSource(source: source)
        watches[watch] = entry
        if dbus_watch_get_enabled(watch) != 0 {
            source.resume()
            entry.resumed = true
        }
    }

    private func removeWatch(_ watch: OpaquePointer) {
        guard let entry = watches.removeValue(forKey: watch) else { return }
        if !entry.resumed { entry.source.resume() }
        entry.source.cancel()
    }

    private func toggleWatch(_ watch: OpaquePointer) {
        guard let entry = watches[watch] else { return }
        let enabled = dbus_watch_get_enabled(watch) != 0
        if enabled && !entry.resumed {
            entry.source.resume()
            entry.resumed = true
        } else if !enabled && entry.resumed {
            entry.source.suspend()
            entry.resumed = false
        }
    }

    // MARK: Timeouts

    private func addTimeout(_ timeout: OpaquePointer) {
        guard dbus_timeout_get_enabled(timeout) != 0 else { return }
        let interval = Int(dbus_timeout_get_interval(timeout))
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(max(1, interval)))
        timer.setEventHandler { [unowned self] in
            guard !self.closed else { return }
            _ = dbus_timeout_handle(timeout)
            self.dispatchPending()
        }
        timers[timeout] = timer
        timer.resume()
    }

    private func removeTimeout(_ timeout: OpaquePointer) {
        timers.removeValue(forKey: timeout)?.cancel()
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
            for subscription in subscriptions.values where subscription.rule.matches(message) {
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

    private func connectionLost() {
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
        dbus_connection_set_wakeup_main_function(raw, nil, nil, nil)
        for entry in watches.values {
            if !entry.resumed { entry.source.resume() }
            entry.source.cancel()
        }
        watches = [:]
        for timer in timers.values { timer.cancel() }
        timers = [:]
        for subscription in subscriptions.values { subscription.continuation.finish() }
        subscriptions = [:]
        objects = [:]
    }
}
