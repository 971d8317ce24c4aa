"""The 1,000 bound clients of the scale row of make bench: opens COUNT connections to the bus at
ADDRESS, each with a bound session at the agent, prints "ready", and waits to be killed; when it
is, every client leaves the bus at once.

usage: bound_clients.py ADDRESS COUNT
"""
import resource
import sys
import time

import dbus

address, count = sys.argv[1], int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
clients = []
for index in range(count):
    bus = dbus.bus.BusConnection(address)
    agent = dbus.Interface(bus.get_object("io.github.quiesce.Agent1", "/io/github/quiesce/Agent1", introspect=False),
                           "io.github.quiesce.Agent1")
    agent.OpenSession(f"client {index}", dbus.Dictionary({}, signature="sv"))
    clients.append(bus)
print("ready", flush=True)
while True:
    time.sleep(3600)
