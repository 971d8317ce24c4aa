#!/usr/bin/python3
"""Checks a StatusNotifierItem and its com.canonical.dbusmenu the way hosts read them, through
python-dbus (a D-Bus binding we did not write): every method of the dbusmenu, the property types
GNOME's AppIndicator extension insists on, and the pixmaps' sizes.

   tray_conformance.py BUS_NAME        (DBUS_SESSION_BUS_ADDRESS names the bus)

Prints one line per failed check and exits 1 when any failed; prints "ok N checks" otherwise.
Clicks nothing: it changes no state of the agent (Event is sent only to an unknown item)."""
import sys
import traceback
import dbus

# Everything on stdout, where the test reads it: a traceback included.
sys.excepthook = lambda kind, value, tb: (print("".join(traceback.format_exception(kind, value, tb))), sys.exit(2))

name = sys.argv[1]
bus = dbus.SessionBus()
failures, checks = [], 0

def check(condition, what):
    global checks
    checks += 1
    if not condition:
        failures.append(what)

item = bus.get_object(name, "/StatusNotifierItem", introspect=False)
props = dbus.Interface(item, "org.freedesktop.DBus.Properties").GetAll("org.kde.StatusNotifierItem")
expected = {
    "Category": dbus.String, "Id": dbus.String, "Title": dbus.String, "Status": dbus.String,
    "WindowId": dbus.Int32, "IconName": dbus.String, "IconPixmap": dbus.Array, "AttentionIconName": dbus.String,
    "AttentionIconPixmap": dbus.Array, "OverlayIconName": dbus.String, "ToolTip": dbus.Struct,
    "ItemIsMenu": dbus.Boolean, "Menu": dbus.ObjectPath,
}
for key, kind in expected.items():
    check(isinstance(props.get(key), kind), f"SNI property {key} is {type(props.get(key)).__name__}, want {kind.__name__}")
check(props.get("Category") == "ApplicationStatus", f"Category {props.get('Category')}")
check(props.get("Id") == "io.github.quiesce.Agent", f"Id {props.get('Id')}")
check(props.get("Status") in ("Active", "NeedsAttention"), f"Status {props.get('Status')} (never Passive)")
check(props.get("ItemIsMenu") == False, "ItemIsMenu must be false so a left click reaches Activate")
check(props.get("Menu") == "/MenuBar", f"Menu {props.get('Menu')}")
check(props["IconPixmap"].signature == "(iiay)", f"IconPixmap signature {props['IconPixmap'].signature}")
sizes = sorted(int(w) for w, h, data in props["IconPixmap"])
check(sizes == [22, 32, 48], f"IconPixmap sizes {sizes}")
for w, h, data in props["IconPixmap"]:
    check(len(data) == w * h * 4, f"IconPixmap {w}x{h} has {len(data)} bytes")
    check(any(data[i] == 255 for i in range(0, len(data), 4)), f"IconPixmap {w}x{h}: no opaque pixel (alpha first?)")
tooltip = props["ToolTip"]
check(len(tooltip) == 4 and tooltip.signature in (None, "sa(iiay)ss"), f"ToolTip {tooltip}")
check(str(tooltip[2]) == "Quiesce" and len(str(tooltip[3])) > 0, f"ToolTip title/text {tooltip[2]!r} {tooltip[3]!r}")
introspection = dbus.Interface(item, "org.freedesktop.DBus.Introspectable").Introspect()
for member in ("Activate", "SecondaryActivate", "ContextMenu", "Scroll", "NewIcon", "NewStatus", "NewToolTip", "NewTitle", "IconPixmap"):
    check(member in introspection, f"the SNI's introspection lacks {member}")

menu = bus.get_object(name, "/MenuBar", introspect=False)
menu_props = dbus.Interface(menu, "org.freedesktop.DBus.Properties").GetAll("com.canonical.dbusmenu")
check(menu_props.get("Version") == 3, f"Version {menu_props.get('Version')} (3 with EventGroup/AboutToShowGroup)")
check(isinstance(menu_props.get("Version"), dbus.UInt32), "Version is a u")
check(menu_props.get("TextDirection") in ("ltr", "rtl"), f"TextDirection {menu_props.get('TextDirection')}")
check(menu_props.get("Status") in ("normal", "notice"), f"Status {menu_props.get('Status')}")
dbusmenu = dbus.Interface(menu, "com.canonical.dbusmenu")
revision, layout = dbusmenu.GetLayout(0, -1, dbus.Array([], signature="s"))
check(isinstance(revision, dbus.UInt32), "GetLayout revision is a u")
root_id, root_props, children = layout
check(root_id == 0 and root_props.get("children-display") == "submenu", f"root {root_id} {dict(root_props)}")
items = {int(child[0]): dict(child[1]) for child in children}
labels = [items[i].get("label") for i in sorted(items) if items[i].get("type") != "separator"]
check(len(labels) == 4, f"four entries besides separators: {labels}")
check(labels[1] in ("_Pause sync", "_Resume sync"), f"pause entry {labels[1]}")
check([int(child[0]) for child in children] == [1, 2, 3, 4, 5], f"ids {[int(child[0]) for child in children]}")
check(labels[2] == "_Open NAS folder" and labels[3] == "_Quit", f"entries {labels}")
check(items[1].get("enabled") == False, "the status line is disabled")
check(any(v.get("type") == "separator" for v in items.values()), "a separator")
_, only_labels = dbusmenu.GetLayout(0, -1, ["label"])
check(all(set(child[1].keys()) <= {"label"} for child in only_labels[2]), "GetLayout honours propertyNames")
_, shallow = dbusmenu.GetLayout(0, 0, dbus.Array([], signature="s"))
check(len(shallow[2]) == 0, "recursionDepth 0 lists no children")
everything = dbusmenu.GetGroupProperties(dbus.Array([], signature="i"), dbus.Array([], signature="s"))
check(sorted(int(entry[0]) for entry in everything) == [0, 1, 2, 3, 4, 5], f"GetGroupProperties([]) answers the root too: {[int(e[0]) for e in everything]}")
check(dbusmenu.GetProperty(0, "children-display") == "submenu", "GetProperty on the root")
dbusmenu.Event(dbus.Int32(0), "opened", dbus.String("", variant_level=1), dbus.UInt32(0))
dbusmenu.Event(dbus.Int32(0), "closed", dbus.String("", variant_level=1), dbus.UInt32(0))
check(True, "Event(0, opened/closed) answered, as GNOME sends them")
check(isinstance(props.get("IconAccessibleDesc"), dbus.String), "IconAccessibleDesc (GNOME's extension reads it)")
group = dbusmenu.GetGroupProperties([2, 5], ["label"])
check(sorted(int(entry[0]) for entry in group) == [2, 5], f"GetGroupProperties ids {group}")
check(dbusmenu.GetProperty(5, "label") == "_Quit", "GetProperty(5, label)")
check(dbusmenu.AboutToShow(0) in (True, False), "AboutToShow answers a b")
updates, errors = dbusmenu.AboutToShowGroup([0, 2, 99])
check(list(errors) == [99], f"AboutToShowGroup idErrors {errors}")
errors = dbusmenu.EventGroup(dbus.Array([(dbus.Int32(99), "clicked", dbus.String("", variant_level=1), dbus.UInt32(0))], signature="(isvu)"))
check(list(errors) == [99], f"EventGroup idErrors {errors}")
try:
    dbusmenu.Event(dbus.Int32(99), "clicked", dbus.String("", variant_level=1), dbus.UInt32(0))
    check(False, "Event on an unknown item must fail")
except dbus.DBusException:
    check(True, "")
menu_introspection = dbus.Interface(menu, "org.freedesktop.DBus.Introspectable").Introspect()
for member in ("GetLayout", "GetGroupProperties", "GetProperty", "Event", "EventGroup", "AboutToShow", "AboutToShowGroup", "ItemsPropertiesUpdated", "LayoutUpdated"):
    check(member in menu_introspection, f"the menu's introspection lacks {member}")

for failure in failures:
    print(failure)
if failures:
    sys.exit(1)
print(f"ok {checks} checks")
