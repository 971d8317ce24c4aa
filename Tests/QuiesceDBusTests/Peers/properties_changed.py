"""Subscribes to PropertiesChanged from the echo object through python-dbus, calls SetGreeting,
and prints the signal it receives: interface, the changed properties with their types, and the
invalidated ones. The Greeting read back through Properties.Get must be the new one.

usage: properties_changed.py ADDRESS BUS_NAME GREETING. Exits 1 if no signal comes in 10 s.
"""
import sys

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
name, greeting = sys.argv[2], sys.argv[3]
loop = GLib.MainLoop()


def changed(interface, properties, invalidated, path=None):
    for key, value in sorted(properties.items()):
        print(f"{path} {interface} {key}={value} ({type(value).__name__}, variant level {value.variant_level}) invalidated={list(invalidated)}")
    loop.quit()


bus.add_signal_receiver(changed, "PropertiesChanged", "org.freedesktop.DBus.Properties", name, "/io/github/quiesce/Test", path_keyword="path")
obj = bus.get_object(name, "/io/github/quiesce/Test", introspect=False)
# The match rule is in place once add_signal_receiver returns: the change cannot be missed.
obj.SetGreeting(greeting, dbus_interface="io.github.quiesce.Test.Echo", reply_handler=lambda: None, error_handler=lambda e: sys.exit(str(e)))
GLib.timeout_add_seconds(10, lambda: sys.exit("no PropertiesChanged within 10 s"))
loop.run()
print("Get:", obj.Get("io.github.quiesce.Test.Echo", "Greeting", dbus_interface="org.freedesktop.DBus.Properties"))
