#!/usr/bin/python3
"""A StatusNotifierItem with a com.canonical.dbusmenu menu, for the rig and as a reference.

It is what the agent's tray is (BRIEF: "The desktop", Tray), small and complete, so a tray host can be
proved against it and the Swift code can be checked against it:

    bus name   org.kde.StatusNotifierItem-<pid>-1, registered with org.kde.StatusNotifierWatcher's
               RegisterStatusNotifierItem(bus name) at start and again whenever the watcher gets a
               new owner (the host restarted)
    /StatusNotifierItem  org.kde.StatusNotifierItem
        properties Category, Id, Title, Status, WindowId, IconThemePath, IconName, IconPixmap,
                   OverlayIconName, OverlayIconPixmap, AttentionIconName, AttentionIconPixmap,
                   AttentionMovieName, ToolTip, ItemIsMenu, Menu
        methods    Activate(ii), SecondaryActivate(ii), ContextMenu(ii), Scroll(is)
        signals    NewTitle, NewIcon, NewAttentionIcon, NewOverlayIcon, NewToolTip, NewStatus(s)
    /MenuBar   com.canonical.dbusmenu
        properties Version (u), TextDirection, Status, IconThemePath (as)
        methods    GetLayout(iias), GetGroupProperties(aias), GetProperty(is), Event(isvu),
                   EventGroup(a(isvu)), AboutToShow(i), AboutToShowGroup(ai)
        signals    ItemsPropertiesUpdated(a(ia{sv})a(ias)), LayoutUpdated(ui),
                   ItemActivationRequested(iu)
        items      0 root; 1 the status line (disabled); 2 Pause sync / Resume sync; 3 Open NAS folder;
                   4 separator; 5 Quit
    both objects answer org.freedesktop.DBus.Properties (Get, GetAll, Set: read-only) and
    org.freedesktop.DBus.Introspectable with their full interface, properties included. A call
    whose arguments do not match its signature is answered org.freedesktop.DBus.Error.InvalidArgs,
    an unknown method UnknownMethod.
    A click on Pause sync toggles its label (ItemsPropertiesUpdated); Quit makes the item exit 0
    (unless --stay-on-quit), and the host drops the icon when the name leaves the bus.

IconPixmap and AttentionIconPixmap are solid squares of 22, 32 and 48 px, ARGB32 in network byte
order (A, R, G, B bytes per pixel). A host draws the pixmap only when IconName is not in its icon
theme (xfce4-panel looks the name up first, and scales the largest pixmap to its icon size).
AttentionIconPixmap is published only while Status is NeedsAttention (empty otherwise): xfce4-panel
4.18 forgets an attention icon only when it reads changed icon properties, so an attention pixmap
that stays published stays drawn after the item went back to Active.

Every method call it receives is logged (`call INTERFACE.MEMBER PATH (ARGS) from SENDER`) before it is
handled, and what the handler makes of it after (`activate`, `menu-event`, ...). Each line of output is
`+SECONDS WALLCLOCK EVENT details`, SECONDS since the item started, flushed at once.

Commands on stdin (one a line) drive it while it runs:
    status Active|Passive|NeedsAttention   set Status, emit NewStatus(status) and NewAttentionIcon
    icon RRGGBB                            a new IconPixmap colour, emit NewIcon
    icon-name NAME|-                       IconName (- for empty), emit NewIcon
    attention RRGGBB                       a new AttentionIconPixmap colour, emit NewAttentionIcon
    title TEXT                             Title, emit NewTitle
    tooltip TEXT                           ToolTip's title, emit NewToolTip
    item-is-menu 0|1                       ItemIsMenu (no signal of its own: emits NewTitle, on which
                                           hosts re-read every property)
    line TEXT                              the status line's label, emit ItemsPropertiesUpdated
    paused 0|1                             Pause sync / Resume sync, emit ItemsPropertiesUpdated
    layout                                 a new revision, emit LayoutUpdated(revision, 0)
    activation-request ID                  emit ItemActivationRequested(ID, 0)
    register                               RegisterStatusNotifierItem again
    quit                                   exit 0

Example: sni-item.py --menu-version 3 --colour ff0000 --icon-name no-such-icon
"""

import argparse
import datetime
import os
import sys
import time

import dbus
import dbus.mainloop.glib
import dbus.lowlevel
import dbus.service
from gi.repository import GLib

WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM_IFACE = "org.kde.StatusNotifierItem"
ITEM_PATH = "/StatusNotifierItem"
MENU_IFACE = "com.canonical.dbusmenu"
MENU_PATH = "/MenuBar"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
INTROSPECT_IFACE = "org.freedesktop.DBus.Introspectable"

START = time.monotonic()


def log(event, *details):
    now = datetime.datetime.now().isoformat(timespec="milliseconds")
    text = " ".join(str(d) for d in details)
    print(f"+{time.monotonic() - START:.3f} {now} {event} {text}".rstrip(), flush=True)


def plain(value):
    """A D-Bus value as plain Python, for the log."""
    if isinstance(value, (dbus.String, dbus.ObjectPath, dbus.Signature)):
        return str(value)
    if isinstance(value, dbus.Boolean):
        return bool(value)
    if isinstance(value, (dbus.Byte, dbus.Int16, dbus.Int32, dbus.Int64, dbus.UInt16, dbus.UInt32, dbus.UInt64)):
        return int(value)
    if isinstance(value, dbus.Double):
        return float(value)
    if isinstance(value, dbus.ByteArray):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, dbus.Array)):
        if len(value) > 0 and isinstance(value[0], dbus.Byte):
            return f"<{len(value)} bytes>"
        return [plain(v) for v in value]
    if isinstance(value, (tuple, dbus.Struct)):
        return tuple(plain(v) for v in value)
    if isinstance(value, (dict, dbus.Dictionary)):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


def colour_arg(text):
    text = text.lstrip("#")
    if len(text) != 6:
        raise argparse.ArgumentTypeError(f"not a colour RRGGBB: {text!r}")
    return tuple(int(text[i:i + 2], 16) for i in (0, 2, 4))


def pixmaps(rgb):
    """Solid squares of 22, 32 and 48 px in the colour RGB: a(iiay), ARGB32 in network byte order."""
    r, g, b = rgb
    return dbus.Array([dbus.Struct((dbus.Int32(size), dbus.Int32(size),
                                    dbus.ByteArray(bytes((0xFF, r, g, b)) * (size * size))),
                                   signature="iiay")
                       for size in (22, 32, 48)], signature="(iiay)")


def invalid_args(message):
    return dbus.DBusException(message, name="org.freedesktop.DBus.Error.InvalidArgs")


ITEM_XML = """<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
  <interface name="org.kde.StatusNotifierItem">
    <property name="Category" type="s" access="read"/>
    <property name="Id" type="s" access="read"/>
    <property name="Title" type="s" access="read"/>
    <property name="Status" type="s" access="read"/>
    <property name="WindowId" type="i" access="read"/>
    <property name="IconThemePath" type="s" access="read"/>
    <property name="IconName" type="s" access="read"/>
    <property name="IconPixmap" type="a(iiay)" access="read"/>
    <property name="OverlayIconName" type="s" access="read"/>
    <property name="OverlayIconPixmap" type="a(iiay)" access="read"/>
    <property name="AttentionIconName" type="s" access="read"/>
    <property name="AttentionIconPixmap" type="a(iiay)" access="read"/>
    <property name="AttentionMovieName" type="s" access="read"/>
    <property name="ToolTip" type="(sa(iiay)ss)" access="read"/>
    <property name="ItemIsMenu" type="b" access="read"/>
    <property name="Menu" type="o" access="read"/>
    <method name="ContextMenu"><arg name="x" type="i" direction="in"/><arg name="y" type="i" direction="in"/></method>
    <method name="Activate"><arg name="x" type="i" direction="in"/><arg name="y" type="i" direction="in"/></method>
    <method name="SecondaryActivate"><arg name="x" type="i" direction="in"/><arg name="y" type="i" direction="in"/></method>
    <method name="Scroll"><arg name="delta" type="i" direction="in"/><arg name="orientation" type="s" direction="in"/></method>
    <signal name="NewTitle"/>
    <signal name="NewIcon"/>
    <signal name="NewAttentionIcon"/>
    <signal name="NewOverlayIcon"/>
    <signal name="NewToolTip"/>
    <signal name="NewStatus"><arg name="status" type="s"/></signal>
  </interface>
%(common)s
</node>
"""

MENU_XML = """<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
  <interface name="com.canonical.dbusmenu">
    <property name="Version" type="u" access="read"/>
    <property name="TextDirection" type="s" access="read"/>
    <property name="Status" type="s" access="read"/>
    <property name="IconThemePath" type="as" access="read"/>
    <method name="GetLayout">
      <arg name="parentId" type="i" direction="in"/>
      <arg name="recursionDepth" type="i" direction="in"/>
      <arg name="propertyNames" type="as" direction="in"/>
      <arg name="revision" type="u" direction="out"/>
      <arg name="layout" type="(ia{sv}av)" direction="out"/>
    </method>
    <method name="GetGroupProperties">
      <arg name="ids" type="ai" direction="in"/>
      <arg name="propertyNames" type="as" direction="in"/>
      <arg name="properties" type="a(ia{sv})" direction="out"/>
    </method>
    <method name="GetProperty">
      <arg name="id" type="i" direction="in"/>
      <arg name="name" type="s" direction="in"/>
      <arg name="value" type="v" direction="out"/>
    </method>
    <method name="Event">
      <arg name="id" type="i" direction="in"/>
      <arg name="eventId" type="s" direction="in"/>
      <arg name="data" type="v" direction="in"/>
      <arg name="timestamp" type="u" direction="in"/>
    </method>
%(group_methods)s    <method name="AboutToShow">
      <arg name="id" type="i" direction="in"/>
      <arg name="needUpdate" type="b" direction="out"/>
    </method>
    <signal name="ItemsPropertiesUpdated">
      <arg name="updatedProps" type="a(ia{sv})"/>
      <arg name="removedProps" type="a(ias)"/>
    </signal>
    <signal name="LayoutUpdated"><arg name="revision" type="u"/><arg name="parent" type="i"/></signal>
    <signal name="ItemActivationRequested"><arg name="id" type="i"/><arg name="timestamp" type="u"/></signal>
  </interface>
%(common)s
</node>
"""

GROUP_METHODS_XML = """    <method name="EventGroup">
      <arg name="events" type="a(isvu)" direction="in"/>
      <arg name="idErrors" type="ai" direction="out"/>
    </method>
    <method name="AboutToShowGroup">
      <arg name="ids" type="ai" direction="in"/>
      <arg name="updatesNeeded" type="ai" direction="out"/>
      <arg name="idErrors" type="ai" direction="out"/>
    </method>
"""

COMMON_XML = """  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg name="interface_name" type="s" direction="in"/><arg name="property_name" type="s" direction="in"/><arg name="value" type="v" direction="out"/></method>
    <method name="GetAll"><arg name="interface_name" type="s" direction="in"/><arg name="properties" type="a{sv}" direction="out"/></method>
    <method name="Set"><arg name="interface_name" type="s" direction="in"/><arg name="property_name" type="s" direction="in"/><arg name="value" type="v" direction="in"/></method>
    <signal name="PropertiesChanged"><arg name="interface_name" type="s"/><arg name="changed_properties" type="a{sv}"/><arg name="invalidated_properties" type="as"/></signal>
  </interface>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml_data" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId"><arg name="machine_uuid" type="s" direction="out"/></method>
  </interface>"""


# (path, member) -> (interface, signature of the arguments) of every method we serve.
SIGNATURES = {
    **{(path, member): (PROPS_IFACE, sig) for path in (ITEM_PATH, MENU_PATH)
       for member, sig in (("Get", "ss"), ("GetAll", "s"), ("Set", "ssv"))},
    **{(path, "Introspect"): (INTROSPECT_IFACE, "") for path in (ITEM_PATH, MENU_PATH)},
    (ITEM_PATH, "Activate"): (ITEM_IFACE, "ii"),
    (ITEM_PATH, "SecondaryActivate"): (ITEM_IFACE, "ii"),
    (ITEM_PATH, "ContextMenu"): (ITEM_IFACE, "ii"),
    (ITEM_PATH, "Scroll"): (ITEM_IFACE, "is"),
    (MENU_PATH, "GetLayout"): (MENU_IFACE, "iias"),
    (MENU_PATH, "GetGroupProperties"): (MENU_IFACE, "aias"),
    (MENU_PATH, "GetProperty"): (MENU_IFACE, "is"),
    (MENU_PATH, "Event"): (MENU_IFACE, "isvu"),
    (MENU_PATH, "EventGroup"): (MENU_IFACE, "a(isvu)"),
    (MENU_PATH, "AboutToShow"): (MENU_IFACE, "i"),
    (MENU_PATH, "AboutToShowGroup"): (MENU_IFACE, "ai"),
}


class PropertiesObject(dbus.service.Object):
    """An object whose properties (one interface) come from self.properties()."""

    interface = None

    def properties(self):
        raise NotImplementedError

    def introspection(self):
        raise NotImplementedError

    @dbus.service.method(PROPS_IFACE, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        if interface != self.interface:
            raise invalid_args(f"No such interface '{interface}'")
        properties = self.properties()
        if name not in properties:
            raise invalid_args(f"No such property '{name}'")
        return properties[name]

    @dbus.service.method(PROPS_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        if interface != self.interface:
            raise invalid_args(f"No such interface '{interface}'")
        return dbus.Dictionary(self.properties(), signature="sv")

    @dbus.service.method(PROPS_IFACE, in_signature="ssv", out_signature="")
    def Set(self, interface, name, value):
        raise dbus.DBusException(f"Property '{name}' is not writable",
                                 name="org.freedesktop.DBus.Error.PropertyReadOnly")

    @dbus.service.signal(PROPS_IFACE, signature="sa{sv}as")
    def PropertiesChanged(self, interface, changed, invalidated):
        pass

    @dbus.service.method(INTROSPECT_IFACE, in_signature="", out_signature="s")
    def Introspect(self):
        return self.introspection()


class Item(PropertiesObject):
    interface = ITEM_IFACE

    def __init__(self, bus, args):
        super().__init__(bus, ITEM_PATH)
        self.args = args
        self.status = args.status
        self.title = args.title
        self.tooltip = args.tooltip
        self.icon_name = args.icon_name
        self.colour = args.colour
        self.attention_colour = args.attention_colour
        self.item_is_menu = args.item_is_menu

    def properties(self):
        tooltip = dbus.Struct(("", dbus.Array([], signature="(iiay)"), self.tooltip, ""), signature="sa(iiay)ss")
        return {
            "Category": dbus.String("ApplicationStatus"),
            "Id": dbus.String(self.args.id),
            "Title": dbus.String(self.title),
            "Status": dbus.String(self.status),
            "WindowId": dbus.Int32(0),
            "IconThemePath": dbus.String(self.args.icon_theme_path),
            "IconName": dbus.String(self.icon_name),
            "IconPixmap": pixmaps(self.colour),
            "OverlayIconName": dbus.String(""),
            "OverlayIconPixmap": dbus.Array([], signature="(iiay)"),
            "AttentionIconName": dbus.String(""),
            # Only while NeedsAttention (see --attention-always).
            "AttentionIconPixmap": (pixmaps(self.attention_colour)
                                    if self.status == "NeedsAttention" or self.args.attention_always
                                    else dbus.Array([], signature="(iiay)")),
            "AttentionMovieName": dbus.String(""),
            "ToolTip": tooltip,
            "ItemIsMenu": dbus.Boolean(self.item_is_menu),
            "Menu": dbus.ObjectPath(MENU_PATH if not self.args.no_menu else "/"),
        }

    def introspection(self):
        return ITEM_XML % {"common": COMMON_XML}

    @dbus.service.method(ITEM_IFACE, in_signature="ii", out_signature="")
    def Activate(self, x, y):
        log("activate", f"x={int(x)} y={int(y)}")

    @dbus.service.method(ITEM_IFACE, in_signature="ii", out_signature="")
    def SecondaryActivate(self, x, y):
        log("secondary-activate", f"x={int(x)} y={int(y)}")

    @dbus.service.method(ITEM_IFACE, in_signature="ii", out_signature="")
    def ContextMenu(self, x, y):
        log("context-menu", f"x={int(x)} y={int(y)}")

    @dbus.service.method(ITEM_IFACE, in_signature="is", out_signature="")
    def Scroll(self, delta, orientation):
        log("scroll", f"delta={int(delta)} orientation={orientation}")

    @dbus.service.signal(ITEM_IFACE, signature="")
    def NewTitle(self):
        log("emit", "NewTitle")

    @dbus.service.signal(ITEM_IFACE, signature="")
    def NewIcon(self):
        log("emit", "NewIcon")

    @dbus.service.signal(ITEM_IFACE, signature="")
    def NewAttentionIcon(self):
        log("emit", "NewAttentionIcon")

    @dbus.service.signal(ITEM_IFACE, signature="")
    def NewOverlayIcon(self):
        log("emit", "NewOverlayIcon")

    @dbus.service.signal(ITEM_IFACE, signature="")
    def NewToolTip(self):
        log("emit", "NewToolTip")

    @dbus.service.signal(ITEM_IFACE, signature="s")
    def NewStatus(self, status):
        log("emit", "NewStatus", status)


class Menu(PropertiesObject):
    """The menu: a flat list under the root, id 0."""

    interface = MENU_IFACE
    STATUS, PAUSE, OPEN, SEPARATOR, QUIT = 1, 2, 3, 4, 5

    def __init__(self, bus, args, on_quit):
        super().__init__(bus, MENU_PATH)
        self.args = args
        self.on_quit = on_quit
        self.revision = 1
        self.paused = False
        self.items = {
            0: {"children-display": "submenu"},
            self.STATUS: {"label": args.line, "enabled": False},
            self.PAUSE: {"label": "Pause sync"},
            self.OPEN: {"label": "Open NAS folder"},
            self.SEPARATOR: {"type": "separator"},
            self.QUIT: {"label": "Quit"},
        }
        self.order = [self.STATUS, self.PAUSE, self.OPEN, self.SEPARATOR, self.QUIT]

    def properties(self):
        return {
            # libdbusmenu reads Version only as a u: any other type counts as 0.
            "Version": (dbus.UInt32 if self.args.menu_version_type == "u" else dbus.Int32)(self.args.menu_version),
            "TextDirection": dbus.String("ltr"),
            "Status": dbus.String("normal"),
            "IconThemePath": dbus.Array([], signature="s"),
        }

    def introspection(self):
        group = GROUP_METHODS_XML if not self.args.no_group else ""
        return MENU_XML % {"common": COMMON_XML, "group_methods": group}

    def item_properties(self, item_id, names):
        props = {"visible": True, "enabled": True, **self.items[item_id]}
        if names:
            props = {k: v for k, v in props.items() if k in names}
        return dbus.Dictionary({k: self.variant(v) for k, v in props.items()}, signature="sv")

    @staticmethod
    def variant(value):
        if isinstance(value, bool):
            return dbus.Boolean(value)
        if isinstance(value, int):
            return dbus.Int32(value)
        return dbus.String(value)

    def layout(self, item_id, depth, names):
        children = []
        if item_id == 0 and depth != 0:
            children = [dbus.Struct(self.layout(child, depth - 1, names), signature="ia{sv}av", variant_level=1)
                        for child in self.order]
        return (dbus.Int32(item_id), self.item_properties(item_id, names), dbus.Array(children, signature="v"))

    @dbus.service.method(MENU_IFACE, in_signature="iias", out_signature="u(ia{sv}av)")
    def GetLayout(self, parent_id, depth, names):
        if parent_id not in self.items:
            raise invalid_args(f"No such item {int(parent_id)}")
        return (dbus.UInt32(self.revision),
                dbus.Struct(self.layout(int(parent_id), int(depth), list(names)), signature="ia{sv}av"))

    @dbus.service.method(MENU_IFACE, in_signature="aias", out_signature="a(ia{sv})")
    def GetGroupProperties(self, ids, names):
        ids = [int(i) for i in ids] or list(self.items)
        return dbus.Array([dbus.Struct((dbus.Int32(i), self.item_properties(i, list(names))), signature="ia{sv}")
                           for i in ids if i in self.items], signature="(ia{sv})")

    @dbus.service.method(MENU_IFACE, in_signature="is", out_signature="v")
    def GetProperty(self, item_id, name):
        if item_id not in self.items:
            raise invalid_args(f"No such item {int(item_id)}")
        props = self.item_properties(int(item_id), [])
        if name not in props:
            raise invalid_args(f"Item {int(item_id)} has no property '{name}'")
        return props[name]

    def event(self, item_id, event_id, data, timestamp, how):
        item_id = int(item_id)
        label = self.items.get(item_id, {}).get("label", self.items.get(item_id, {}).get("type", "?"))
        log("menu-event", f"via={how} id={item_id} label={label!r} event={event_id} data={plain(data)!r} timestamp={int(timestamp)}")
        if event_id != "clicked":
            return
        if item_id == self.PAUSE:
            self.set_paused(not self.paused)
        elif item_id == self.QUIT and not self.args.stay_on_quit:
            GLib.idle_add(self.on_quit)

    @dbus.service.method(MENU_IFACE, in_signature="isvu", out_signature="")
    def Event(self, item_id, event_id, data, timestamp):
        if item_id not in self.items:
            raise invalid_args(f"No such item {int(item_id)}")
        self.event(item_id, event_id, data, timestamp, "Event")

    @dbus.service.method(MENU_IFACE, in_signature="a(isvu)", out_signature="ai")
    def EventGroup(self, events):
        if self.args.no_group:
            log("menu-event-lost", "EventGroup refused (--no-group):", plain(events))
            raise dbus.DBusException("this item plays a menu without EventGroup (--no-group)",
                                     name="org.freedesktop.DBus.Error.UnknownMethod")
        errors = []
        for item_id, event_id, data, timestamp in events:
            if item_id in self.items:
                self.event(item_id, event_id, data, timestamp, "EventGroup")
            else:
                errors.append(dbus.Int32(item_id))
        return dbus.Array(errors, signature="i")

    @dbus.service.method(MENU_IFACE, in_signature="i", out_signature="b")
    def AboutToShow(self, item_id):
        if item_id not in self.items:
            raise invalid_args(f"No such item {int(item_id)}")
        return False

    @dbus.service.method(MENU_IFACE, in_signature="ai", out_signature="aiai")
    def AboutToShowGroup(self, ids):
        if self.args.no_group:
            raise dbus.DBusException("this item plays a menu without AboutToShowGroup (--no-group)",
                                     name="org.freedesktop.DBus.Error.UnknownMethod")
        errors = [dbus.Int32(i) for i in ids if i not in self.items]
        return dbus.Array([], signature="i"), dbus.Array(errors, signature="i")

    @dbus.service.signal(MENU_IFACE, signature="a(ia{sv})a(ias)")
    def ItemsPropertiesUpdated(self, updated, removed):
        log("emit", "ItemsPropertiesUpdated", plain(updated), plain(removed))

    @dbus.service.signal(MENU_IFACE, signature="ui")
    def LayoutUpdated(self, revision, parent):
        log("emit", "LayoutUpdated", int(revision), int(parent))

    @dbus.service.signal(MENU_IFACE, signature="iu")
    def ItemActivationRequested(self, item_id, timestamp):
        log("emit", "ItemActivationRequested", int(item_id), int(timestamp))

    def update(self, item_id, **props):
        self.items[item_id].update(props)
        updated = dbus.Array([dbus.Struct((dbus.Int32(item_id),
                                           dbus.Dictionary({k: self.variant(v) for k, v in props.items()}, signature="sv")),
                                          signature="ia{sv}")], signature="(ia{sv})")
        self.ItemsPropertiesUpdated(updated, dbus.Array([], signature="(ias)"))

    def set_paused(self, paused):
        self.paused = paused
        self.update(self.PAUSE, label="Resume sync" if paused else "Pause sync")

    def new_layout(self):
        self.revision += 1
        self.LayoutUpdated(dbus.UInt32(self.revision), dbus.Int32(0))


class Tray:
    def __init__(self, args):
        self.args = args
        self.bus = dbus.SessionBus()
        self.bus.add_message_filter(self.on_message)
        self.name = f"org.kde.StatusNotifierItem-{os.getpid()}-1"
        self.bus_name = dbus.service.BusName(self.name, self.bus, do_not_queue=True)
        self.item = Item(self.bus, args)
        self.menu = Menu(self.bus, args, lambda: self.exit(0))
        self.bus.add_signal_receiver(self.on_watcher_owner, signal_name="NameOwnerChanged",
                                     dbus_interface="org.freedesktop.DBus",
                                     bus_name="org.freedesktop.DBus", arg0=WATCHER)

    def on_message(self, connection, message):
        """Logs every method call addressed to us, before it is dispatched, and answers one whose
        arguments do not match the method's signature with InvalidArgs (dbus-python would call the
        handler anyway and answer a Python TypeError, or worse, accept it)."""
        if message.get_type() != dbus.lowlevel.MESSAGE_TYPE_METHOD_CALL or message.get_path() not in (ITEM_PATH, MENU_PATH, "/"):
            return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED
        try:
            args = tuple(plain(a) for a in message.get_args_list())
        except Exception as error:  # a malformed body: dispatch answers it
            args = f"<unreadable: {error}>"
        interface, member, signature = message.get_interface(), message.get_member(), message.get_signature()
        log("call", f"{interface}.{member}", message.get_path(), args, f"from {message.get_sender()}")
        expected = SIGNATURES.get((message.get_path(), member))
        if expected is not None and interface in (None, expected[0]) and signature != expected[1]:
            log("invalid-args", f"{interface}.{member}", f"signature {signature!r}, not {expected[1]!r}")
            if not message.get_no_reply():
                connection.send_message(dbus.lowlevel.ErrorMessage(
                    message, "org.freedesktop.DBus.Error.InvalidArgs",
                    f"{member} takes ({expected[1]}), not ({signature})"))
            return dbus.lowlevel.HANDLER_RESULT_HANDLED
        # Not handled here: go on dispatching (dbus-python takes None as handled, and the call would
        # never be answered).
        return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED

    def register(self):
        try:
            self.bus.call_blocking(WATCHER, WATCHER_PATH, WATCHER, "RegisterStatusNotifierItem", "s", (self.name,))
            log("registered", self.name)
        except dbus.DBusException as error:
            log("register-failed", error.get_dbus_name(), error.get_dbus_message())

    def on_watcher_owner(self, name, old, new):
        log("watcher-owner-changed", f"old={old!r} new={new!r}")
        if new and not self.args.no_reregister:
            self.register()

    def exit(self, status):
        log("exit", status)
        sys.stdout.flush()
        os._exit(status)

    def on_stdin(self, channel, condition):
        line = channel.readline()
        if not line:
            return False  # EOF: keep running
        words = line.split()
        if not words:
            return True
        command, rest = words[0], " ".join(words[1:])
        item, menu = self.item, self.menu
        try:
            if command == "status":
                item.status = rest
                item.NewStatus(rest)
                # xfce4-panel takes only the visibility from NewStatus; it reads the icons again
                # (GetAll) on NewIcon, NewAttentionIcon, NewOverlayIcon, NewTitle or NewToolTip.
                item.NewAttentionIcon()
            elif command == "icon":
                item.colour = colour_arg(rest)
                item.NewIcon()
            elif command == "icon-name":
                item.icon_name = "" if rest == "-" else rest
                item.NewIcon()
            elif command == "attention":
                item.attention_colour = colour_arg(rest)
                item.NewAttentionIcon()
            elif command == "title":
                item.title = rest
                item.NewTitle()
            elif command == "tooltip":
                item.tooltip = rest
                item.NewToolTip()
            elif command == "item-is-menu":
                item.item_is_menu = rest in ("1", "true", "yes")
                item.NewTitle()
            elif command == "line":
                menu.update(Menu.STATUS, label=rest)
            elif command == "paused":
                menu.set_paused(rest in ("1", "true", "yes"))
            elif command == "layout":
                menu.new_layout()
            elif command == "activation-request":
                menu.ItemActivationRequested(dbus.Int32(int(rest)), dbus.UInt32(0))
            elif command == "register":
                self.register()
            elif command == "quit":
                self.exit(0)
            else:
                log("unknown-command", line.strip())
        except (dbus.DBusException, ValueError, argparse.ArgumentTypeError) as error:
            log(f"{command}-failed", error)
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--id", default="io.github.quiesce.Agent", help="Id (hosts hide an item without one)")
    parser.add_argument("--title", default="Quiesce")
    parser.add_argument("--tooltip", default="Quiesce: idle")
    parser.add_argument("--line", default="Quiesce: idle", help="the status line, the menu's first item")
    parser.add_argument("--status", default="Active", choices=("Active", "Passive", "NeedsAttention"))
    parser.add_argument("--icon-name", default="io.github.quiesce.Agent",
                        help="IconName; a name the host's icon theme lacks makes it draw IconPixmap")
    parser.add_argument("--icon-theme-path", default="", help="IconThemePath (default empty)")
    parser.add_argument("--colour", type=colour_arg, default=colour_arg("2a7fff"),
                        help="IconPixmap's colour, RRGGBB (default 2a7fff)")
    parser.add_argument("--attention-colour", type=colour_arg, default=colour_arg("ff8000"),
                        help="AttentionIconPixmap's colour, RRGGBB (default ff8000)")
    parser.add_argument("--attention-always", action="store_true",
                        help="publish AttentionIconPixmap in every status (default: only while NeedsAttention; "
                             "xfce4-panel 4.18 keeps drawing an attention icon after NeedsAttention until an icon "
                             "property changes)")
    parser.add_argument("--item-is-menu", action="store_true",
                        help="publish ItemIsMenu=true (default false: a left click is Activate)")
    parser.add_argument("--no-menu", action="store_true", help="publish Menu=/ (no menu)")
    parser.add_argument("--menu-version", type=int, default=3,
                        help="the menu's Version (default 3: libdbusmenu then sends EventGroup/AboutToShowGroup)")
    parser.add_argument("--menu-version-type", choices=("u", "i"), default="u",
                        help="the D-Bus type of Version (default u, as the spec says; i shows what a wrong type does)")
    parser.add_argument("--no-group", action="store_true",
                        help="answer EventGroup and AboutToShowGroup with UnknownMethod, as a menu without them would")
    parser.add_argument("--no-register", action="store_true", help="do not RegisterStatusNotifierItem at start")
    parser.add_argument("--no-reregister", action="store_true",
                        help="do not register again when the watcher gets a new owner")
    parser.add_argument("--stay-on-quit", action="store_true", help="keep running after the menu's Quit")
    args = parser.parse_args()

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    tray = Tray(args)
    log("started", f"pid={os.getpid()}", f"name={tray.name}", f"unique_name={tray.bus.get_unique_name()}",
        f"menu_version={args.menu_version}", f"item_is_menu={args.item_is_menu}")
    if not args.no_register:
        tray.register()
    channel = GLib.IOChannel.unix_new(sys.stdin.fileno())
    GLib.io_add_watch(channel, GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP, tray.on_stdin)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
