import Foundation
import Logging
import QuiesceCore
import QuiesceDBus
import QuiesceSpawn
import QuiesceSync
import Synchronization

/// The agent's tray icon: a StatusNotifierItem with a dbusmenu, on the agent's own session-bus
/// connection.
///
/// - Registered with `org.kde.StatusNotifierWatcher` (xfce's and KDE's panels, waybar, GNOME's
///   AppIndicator extension), and again whenever a watcher appears. No watcher: no tray, nothing
///   else changes, and the log says so once. The quit path never depends on it.
/// - Its state follows the agent's properties (``update(_:)``), never a timer.
/// - Left click (`Activate`, with `ItemIsMenu=false`) opens the NAS folder; the menu has the state
///   in words, Pause/Resume sync, Open NAS folder and Quit (a quit the user asked for: the same
///   drain and prompt as `agentctl quit`, no ceiling).
final class Tray: Component, Sendable {
    let name = "tray"

    private struct State {
        var tray: TrayState
        var menuRevision: UInt32 = 1
        var watching: Task<Void, Never>?
        /// An activation token from the host, for the next window we cause (xdg-open).
        var activationToken: String?
        var exported = false
        var stopped = false
        var saidAbsent = false
        /// A host has taken the icon: from then on it is told of changes. Before, there is no one
        /// to tell (a host reads every property when the icon registers).
        var registered = false
    }

    private let connection: BusConnection
    private let coordinator: ShutdownCoordinator<ContinuousClock>
    private let service: AgentService
    private let worker: SyncWorker
    private let required: Bool
    private let logger: Logger
    private let state: Mutex<State>
    /// `org.kde.StatusNotifierItem-<pid>-1`, as the spec names an item's service.
    let busName = "org.kde.StatusNotifierItem-\(getpid())-1"

    init(
        connection: BusConnection, coordinator: ShutdownCoordinator<ContinuousClock>, service: AgentService, worker: SyncWorker,
        initial: StatusBoard.Values, required: Bool, logger: Logger
    ) {
        self.connection = connection
        self.coordinator = coordinator
        self.service = service
        self.worker = worker
        self.required = required
        self.logger = logger
        state = Mutex(State(tray: TrayState(initial, nasRoot: worker.nasRoot)))
    }

    func start() async throws {
        try connection.export(itemObject())
        try connection.export(menuObject())
        state.withLock { $0.exported = true }
        _ = try await connection.requestName(busName)
        let watchers = try await connection.nameOwnerChanges(of: StatusNotifierItem.watcher)
        let watching = Task {
            for await change in watchers where !change.newOwner.isEmpty {
                self.logger.notice("a tray host appeared (\(StatusNotifierItem.watcher)); showing the tray icon")
                await self.register()
            }
        }
        state.withLock { $0.watching = watching }
        if (try? await connection.nameOwner(StatusNotifierItem.watcher)) != nil {
            await register()
        } else if state.withLock({ state in defer { state.saidAbsent = true }; return !state.saidAbsent }) {
            logger.log(
                level: required ? .warning : .info,
                "no tray host (\(StatusNotifierItem.watcher)) on the session bus: no tray icon; everything else works as before (GNOME needs the AppIndicator extension)")
        }
    }

    func stop() async throws {
        let watching = state.withLock { state in
            state.stopped = true
            return state.watching
        }
        // The item's name goes with the agent's connection (closed once everything has stopped),
        // and the host takes the icon away then: a ReleaseName of its own only added messages
        // to the quit's.
        watching?.cancel()
    }

    /// The agent's properties changed: show the new state, telling the host what changed.
    func update(_ values: StatusBoard.Values) {
        let next = TrayState(values, nasRoot: worker.nasRoot)
        let (previous, revision) = state.withLock { state -> (TrayState?, UInt32) in
            guard state.exported, !state.stopped, state.tray != next else { return (nil, 0) }
            defer { state.tray = next; state.menuRevision += 1 }
            return (state.registered ? state.tray : nil, state.menuRevision + 1)
        }
        guard let previous else { return }
        var signals: [(String, [DBusValue])] = []
        if previous.icon != next.icon { signals.append(("NewIcon", [])) }
        if previous.status != next.status { signals.append(("NewStatus", [.string(next.status)])) }
        // xfce's panel keeps drawing an attention icon after NeedsAttention ends until an icon
        // property changes: the attention icon is published only while it applies, and its
        // change announced with every change of status or picture.
        if previous.status != next.status || (next.needsAttention && previous.icon != next.icon) {
            signals.append(("NewAttentionIcon", []))
        }
        if previous.text != next.text { signals.append(("NewToolTip", [])) }
        for (member, arguments) in signals {
            emit(path: StatusNotifierItem.path, interface: StatusNotifierItem.interface, member: member, arguments)
        }
        let changed = TrayMenu.changed(from: TrayMenu(state: previous), to: TrayMenu(state: next))
        guard !changed.isEmpty else { return }
        let menu = TrayMenu(state: next)
        let updated = changed.map { DBusValue.structure([.int32($0.rawValue), .vardict(menu.properties(of: $0))]) }
        emit(path: StatusNotifierItem.menuPath, interface: "com.canonical.dbusmenu", member: "ItemsPropertiesUpdated", [
            .array(element: "(ia{sv})", updated), .array(element: "(ias)", []),
        ])
        emit(path: StatusNotifierItem.menuPath, interface: "com.canonical.dbusmenu", member: "LayoutUpdated", [.uint32(revision), .int32(0)])
    }

    private func emit(path: String, interface: String, member: String, _ arguments: [DBusValue]) {
        guard let signal = try? DBusMessage.signal(path: path, interface: interface, member: member, arguments: arguments) else { return }
        try? connection.send(signal)
    }

    private func register() async {
        guard !state.withLock({ $0.stopped }) else { return }
        do {
            let message = try DBusMessage.methodCall(
                destination: StatusNotifierItem.watcher, path: StatusNotifierItem.watcherPath, interface: StatusNotifierItem.watcher,
                member: "RegisterStatusNotifierItem", arguments: [.string(busName)])
            // Told of changes from before the host reads the properties, so none falls between.
            state.withLock { $0.registered = true }
            _ = try await connection.call(message, timeout: .seconds(5))
            logger.info("tray icon registered with the tray host as \(busName)")
        } catch {
            logger.warning("the tray host refused our icon (\(error.message)); it is offered again when a host appears")
        }
    }

    private var current: TrayState { state.withLock { $0.tray } }

    // MARK: Actions

    private func openFolder() {
        guard let root = worker.nasRoot else {
            logger.info("tray: no NAS folder to open (sync.nas_root is not set)")
            return
        }
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = nil
        if let token = state.withLock({ state in defer { state.activationToken = nil }; return state.activationToken }) {
            // Wayland's activation token and X11's startup id: the file manager's window may then
            // take the focus the click gave us.
            environment["XDG_ACTIVATION_TOKEN"] = token
            environment["DESKTOP_STARTUP_ID"] = token
        }
        do {
            let pid = try Spawn.start("xdg-open", [root], environment: environment, searchPath: true)
            logger.info("tray: opening \(root) in the file manager (xdg-open, pid \(pid))")
            Task { _ = await Spawn.waitForExit(pid) }
        } catch {
            logger.warning("tray: could not open \(root): \(error)")
        }
    }

    private func clicked(_ item: TrayMenu.Item) async throws {
        switch item {
        case .pauseResume:
            _ = try service.setSyncPaused(!current.paused)
        case .openFolder:
            openFolder()
        case .quit:
            logger.info("tray: Quit chosen")
            await coordinator.trigger(.request())
        case .status, .separator:
            break
        }
    }

    // MARK: The objects

    private func itemObject() -> ExportedObject {
        let properties: [DBusProperty] = [
            DBusProperty("Category", signature: "s") { .string("ApplicationStatus") },
            DBusProperty("Id", signature: "s") { .string("io.github.quiesce.Agent") },
            DBusProperty("Title", signature: "s") { .string("Quiesce") },
            DBusProperty("Status", signature: "s") { .string(self.current.status) },
            DBusProperty("WindowId", signature: "i") { .int32(0) },
            DBusProperty("IconThemePath", signature: "s") { .string("") },
            DBusProperty("IconName", signature: "s") { .string(self.current.icon.themeName) },
            DBusProperty("IconPixmap", signature: "a(iiay)") { TrayPixmaps.value(for: self.current.icon) },
            DBusProperty("OverlayIconName", signature: "s") { .string("") },
            DBusProperty("OverlayIconPixmap", signature: "a(iiay)") { .array(element: "(iiay)", []) },
            DBusProperty("AttentionIconName", signature: "s") {
                let state = self.current
                return .string(state.needsAttention ? state.icon.themeName : "")
            },
            DBusProperty("AttentionIconPixmap", signature: "a(iiay)") {
                let state = self.current
                return state.needsAttention ? TrayPixmaps.value(for: state.icon) : .array(element: "(iiay)", [])
            },
            DBusProperty("AttentionMovieName", signature: "s") { .string("") },
            DBusProperty("ToolTip", signature: "(sa(iiay)ss)") {
                .structure([.string(self.current.icon.themeName), .array(element: "(iiay)", []), .string("Quiesce"), .string(TrayText.markup(self.current.text))])
            },
            // Read by GNOME's extension with every NewIcon (it logs an error when missing).
            DBusProperty("IconAccessibleDesc", signature: "s") { .string("Quiesce: \(self.current.text)") },
            DBusProperty("AttentionAccessibleDesc", signature: "s") { .string("Quiesce: \(self.current.text)") },
            DBusProperty("ItemIsMenu", signature: "b") { .boolean(false) },
            DBusProperty("Menu", signature: "o") { .objectPath(StatusNotifierItem.menuPath) },
        ]
        let methods: [DBusMethod] = [
            DBusMethod("Activate", in: "ii") { _ in
                self.openFolder()
                return []
            },
            DBusMethod("SecondaryActivate", in: "ii") { _ in [] },
            DBusMethod("ContextMenu", in: "ii") { _ in [] },
            DBusMethod("Scroll", in: "is") { _ in [] },
            DBusMethod("ProvideXdgActivationToken", in: "s") { call in
                let token = call.arguments.first?.string
                self.state.withLock { $0.activationToken = token }
                return []
            },
        ]
        return ExportedObject(
            path: StatusNotifierItem.path,
            interfaces: [DBusInterface(StatusNotifierItem.interface, methods: methods, properties: properties)],
            introspectionXML: StatusNotifierItem.introspectionXML)
    }

    private func menuObject() -> ExportedObject {
        let properties: [DBusProperty] = [
            DBusProperty("Version", signature: "u") { .uint32(TrayMenu.version) },
            DBusProperty("TextDirection", signature: "s") { .string("ltr") },
            DBusProperty("Status", signature: "s") { .string("normal") },
            DBusProperty("IconThemePath", signature: "as") { .strings([]) },
        ]
        let notFound = DBusError(name: "org.freedesktop.DBus.Error.InvalidArgs", message: "no such menu item")
        let methods: [DBusMethod] = [
            DBusMethod("GetLayout", in: "iias", out: "u(ia{sv}av)") { call in
                let (revision, tray) = self.state.withLock { ($0.menuRevision, $0.tray) }
                let id = call.arguments[0].int32 ?? 0
                guard let layout = TrayMenu(state: tray).layout(id, depth: call.arguments[1].int32 ?? -1, names: call.arguments[2].strings ?? [])
                else { throw notFound }
                return [.uint32(revision), layout]
            },
            DBusMethod("GetGroupProperties", in: "aias", out: "a(ia{sv})") { call in
                let menu = TrayMenu(state: self.current)
                let names = call.arguments[1].strings ?? []
                let asked = call.arguments[0].array?.compactMap(\.int32) ?? []
                let ids = asked.isEmpty ? [0] + TrayMenu.Item.allCases.map(\.rawValue) : asked
                return [.array(element: "(ia{sv})", ids.compactMap { id in
                    menu.properties(ofID: id).map { .structure([.int32(id), TrayMenu.vardict($0, names)]) }
                })]
            },
            DBusMethod("GetProperty", in: "is", out: "v") { call in
                guard let value = TrayMenu(state: self.current).properties(ofID: call.arguments[0].int32 ?? -1)?[call.arguments[1].string ?? ""]
                else { throw notFound }
                return [.variant(value)]
            },
            DBusMethod("Event", in: "isvu") { call in
                let id = call.arguments[0].int32 ?? -1
                // The root gets "opened" and "closed" (GNOME's extension sends them): nothing to do.
                guard id == 0 || TrayMenu.Item(rawValue: id) != nil else { throw notFound }
                if call.arguments[1].string == "clicked", let item = TrayMenu.Item(rawValue: id) { try await self.clicked(item) }
                return []
            },
            DBusMethod("EventGroup", in: "a(isvu)", out: "ai") { call in
                var errors: [DBusValue] = []
                for event in call.arguments[0].array ?? [] {
                    guard let fields = event.fields, let id = fields.first?.int32 else { continue }
                    guard id == 0 || TrayMenu.Item(rawValue: id) != nil else {
                        errors.append(.int32(id))
                        continue
                    }
                    if fields[1].string == "clicked", let item = TrayMenu.Item(rawValue: id) { try await self.clicked(item) }
                }
                return [.array(element: "i", errors)]
            },
            DBusMethod("AboutToShow", in: "i", out: "b") { _ in [.boolean(false)] },
            DBusMethod("AboutToShowGroup", in: "ai", out: "aiai") { call in
                let unknown = (call.arguments[0].array ?? []).filter { $0.int32 != 0 && TrayMenu.Item(rawValue: $0.int32 ?? -1) == nil }
                return [.array(element: "i", []), .array(element: "i", unknown)]
            },
        ]
        return ExportedObject(
            path: StatusNotifierItem.menuPath,
            interfaces: [DBusInterface("com.canonical.dbusmenu", methods: methods, properties: properties)],
            introspectionXML: TrayMenu.introspectionXML)
    }
}
