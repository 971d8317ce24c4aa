import QuiesceDBus

/// The tray's menu as `com.canonical.dbusmenu` describes one: flat, five entries under the root —
/// the state in words, Pause/Resume sync, Open NAS folder, a separator, Quit.
///
/// `Version` is 3 and the group methods (`EventGroup`, `AboutToShowGroup`) are answered: libdbusmenu
/// (xfce, waybar) calls them instead of `Event`/`AboutToShow` exactly when a menu says 3, so a menu
/// that advertised 3 without them would lose every click.
struct TrayMenu: Sendable, Hashable {
    enum Item: Int32, CaseIterable, Sendable {
        /// The state in words; disabled (a line to read, not to click).
        case status = 1
        /// "Pause sync" or "Resume sync".
        case pauseResume = 2
        /// Opens the NAS root in the file manager; disabled when no root is set.
        case openFolder = 3
        case separator = 4
        case quit = 5
    }

    static let version: UInt32 = 3

    var state: TrayState

    /// Every property of `item`, as GetLayout and GetGroupProperties report them.
    func properties(of item: Item) -> [String: DBusValue] {
        switch item {
        case .status:
            return ["label": .string(TrayText.label(state.text)), "enabled": .boolean(false)]
        case .separator:
            return ["type": .string("separator")]
        case .pauseResume:
            return ["label": .string(state.paused ? "_Resume sync" : "_Pause sync"), "enabled": .boolean(true)]
        case .openFolder:
            return ["label": .string("_Open NAS folder"), "enabled": .boolean(state.canOpenFolder)]
        case .quit:
            return ["label": .string("_Quit"), "enabled": .boolean(true)]
        }
    }

    /// The root's own properties (id 0): hosts ask for them like any item's.
    static let rootProperties: [String: DBusValue] = ["children-display": .string("submenu")]

    /// Every property of the item with `id` (0: the root), or nil for an unknown id.
    func properties(ofID id: Int32) -> [String: DBusValue]? {
        id == 0 ? Self.rootProperties : Item(rawValue: id).map { properties(of: $0) }
    }

    /// `(ia{sv}av)` for `id`, children `depth` levels down (-1: all), only `names` (empty: all).
    func layout(_ id: Int32, depth: Int32, names: [String]) -> DBusValue? {
        if id == 0 {
            let children = depth == 0 ? [] : Item.allCases.map { DBusValue.variant(node($0, names: names)) }
            return .structure([.int32(0), Self.vardict(Self.rootProperties, names), .array(element: "v", children)])
        }
        return Item(rawValue: id).map { node($0, names: names) }
    }

    private func node(_ item: Item, names: [String]) -> DBusValue {
        .structure([.int32(item.rawValue), Self.vardict(properties(of: item), names), .array(element: "v", [])])
    }

    static func vardict(_ values: [String: DBusValue], _ names: [String]) -> DBusValue {
        .vardict(names.isEmpty ? values : values.filter { names.contains($0.key) })
    }

    /// The items whose properties differ between two states.
    static func changed(from old: TrayMenu, to new: TrayMenu) -> [Item] {
        Item.allCases.filter { old.properties(of: $0) != new.properties(of: $0) }
    }

    /// Its introspection: the dbusmenu interface as libdbusmenu and GNOME's extension read it.
    static let introspectionXML = """
        <!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
         "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
        <node>
          <interface name="com.canonical.dbusmenu">
            <property name="Version" type="u" access="read"/>
            <property name="TextDirection" type="s" access="read"/>
            <property name="Status" type="s" access="read"/>
            <property name="IconThemePath" type="as" access="read"/>
            <method name="GetLayout">
              <arg type="i" name="parentId" direction="in"/>
              <arg type="i" name="recursionDepth" direction="in"/>
              <arg type="as" name="propertyNames" direction="in"/>
              <arg type="u" name="revision" direction="out"/>
              <arg type="(ia{sv}av)" name="layout" direction="out"/>
            </method>
            <method name="GetGroupProperties">
              <arg type="ai" name="ids" direction="in"/>
              <arg type="as" name="propertyNames" direction="in"/>
              <arg type="a(ia{sv})" name="properties" direction="out"/>
            </method>
            <method name="GetProperty">
              <arg type="i" name="id" direction="in"/>
              <arg type="s" name="name" direction="in"/>
              <arg type="v" name="value" direction="out"/>
            </method>
            <method name="Event">
              <arg type="i" name="id" direction="in"/>
              <arg type="s" name="eventId" direction="in"/>
              <arg type="v" name="data" direction="in"/>
              <arg type="u" name="timestamp" direction="in"/>
            </method>
            <method name="EventGroup">
              <arg type="a(isvu)" name="events" direction="in"/>
              <arg type="ai" name="idErrors" direction="out"/>
            </method>
            <method name="AboutToShow">
              <arg type="i" name="id" direction="in"/>
              <arg type="b" name="needUpdate" direction="out"/>
            </method>
            <method name="AboutToShowGroup">
              <arg type="ai" name="ids" direction="in"/>
              <arg type="ai" name="updatesNeeded" direction="out"/>
              <arg type="ai" name="idErrors" direction="out"/>
            </method>
            <signal name="ItemsPropertiesUpdated">
              <arg type="a(ia{sv})" name="updatedProps"/>
              <arg type="a(ias)" name="removedProps"/>
            </signal>
            <signal name="LayoutUpdated">
              <arg type="u" name="revision"/>
              <arg type="i" name="parent"/>
            </signal>
            <signal name="ItemActivationRequested">
              <arg type="i" name="id"/>
              <arg type="u" name="timestamp"/>
            </signal>
          </interface>
        </node>
        """
}
