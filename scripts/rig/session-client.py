#!/usr/bin/python3
"""A registered client of gnome-session (org.gnome.SessionManager), for the rig and as a reference.

It does what rule 11 asks of the agent, with knobs to misbehave:

    RegisterClient(app_id, startup_id) -> client object path
    listens on that path for org.gnome.SessionManager.ClientPrivate's
        QueryEndSession(u flags), EndSession(u flags), CancelEndSession(), Stop()
    answers QueryEndSession and EndSession with EndSessionResponse(b is_ok, s reason) after a delay
    (or never), optionally holds an inhibitor, and logs every signal with a timestamp.

flags: 1 FORCEFUL, 2 SAVE, 4 LAST (gnome-session/gsm-client.h).

gnome-session emits these signals from the client's object path to everyone (no destination): every
client sees every other client's QueryEndSession/EndSession/Stop. Only the ones on our own path, from
the current owner of org.gnome.SessionManager, are ours; a restarted gnome-session numbers its clients
from Client1 again, so a path from before the restart may be another client's now. We register again
(--reregister) when the name gets a new owner; its inhibitors are gone with the old owner.

Each line of output is `+SECONDS WALLCLOCK EVENT details`, SECONDS since the client started.
Commands on stdin (one a line) drive it while it runs:
    register [APP_ID [STARTUP_ID]]    RegisterClient again (e.g. after gnome-session came back)
    unregister                        UnregisterClient(our path)
    inhibit [FLAGS [REASON]]          Inhibit(app id, 0, REASON, FLAGS); logs the cookie
    uninhibit                         Uninhibit(every cookie we hold)
    inhibitors                        GetInhibitors and, for each, GetAppId/GetReason/GetFlags/GetClientId
    is-inhibited [FLAGS]              IsInhibited
    logout MODE                       Logout(MODE): 0 normal, 1 no confirmation, 2 force
    respond IS_OK [REASON]            EndSessionResponse now (for --query-delay/--end-delay never)
    call PATH INTERFACE METHOD        any argument-less method of gnome-session's (e.g. our client's
                                      org.gnome.SessionManager.Client.GetAppId)
    quit                              exit 0

Example: session-client.py --app-id io.github.quiesce.Agent --end-delay 3 --inhibit 'exporting demo.mp4'
"""

import argparse
import datetime
import os
import sys
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

NAME = "org.gnome.SessionManager"
PATH = "/org/gnome/SessionManager"
IFACE = "org.gnome.SessionManager"
CLIENT_PRIVATE = "org.gnome.SessionManager.ClientPrivate"
INHIBITOR = "org.gnome.SessionManager.Inhibitor"

START = time.monotonic()


def log(event, *details):
    now = datetime.datetime.now().isoformat(timespec="milliseconds")
    text = " ".join(str(d) for d in details)
    print(f"+{time.monotonic() - START:.3f} {now} {event} {text}".rstrip(), flush=True)


def delay_arg(value):
    if value == "never":
        return None
    return float(value)


class Client:
    def __init__(self, args):
        self.args = args
        self.bus = dbus.SessionBus()
        self.path = None
        self.owner = None  # the unique name of org.gnome.SessionManager's owner we registered with
        self.cookies = []
        self.pending = []  # GLib sources of answers not yet sent
        self.bus.add_signal_receiver(self.on_signal, dbus_interface=CLIENT_PRIVATE,
                                     member_keyword="member", path_keyword="path",
                                     sender_keyword="sender")
        self.bus.add_signal_receiver(self.on_owner_changed, signal_name="NameOwnerChanged",
                                     dbus_interface="org.freedesktop.DBus",
                                     bus_name="org.freedesktop.DBus", arg0=NAME)

    def call(self, method, signature="", *args, path=PATH, interface=IFACE):
        """A method call to gnome-session's name (no proxy: a proxy would try to auto-start it)."""
        return self.bus.call_blocking(NAME, path, interface, method, signature, args)

    # --- calls ---------------------------------------------------------------------------------

    def register(self, app_id=None, startup_id=None):
        app_id = self.args.app_id if app_id is None else app_id
        startup_id = self.args.startup_id if startup_id is None else startup_id
        try:
            self.path = str(self.call("RegisterClient", "ss", app_id, startup_id))
            self.owner = str(self.bus.get_name_owner(NAME))
            log("registered", self.path, f"app_id={app_id!r} startup_id={startup_id!r}")
        except dbus.DBusException as error:
            log("register-failed", error.get_dbus_name(), error.get_dbus_message())

    def unregister(self):
        try:
            self.call("UnregisterClient", "o", self.path)
            log("unregistered", self.path)
        except dbus.DBusException as error:
            log("unregister-failed", error.get_dbus_name(), error.get_dbus_message())

    def inhibit(self, flags, reason):
        try:
            cookie = int(self.call("Inhibit", "susu", self.args.app_id, self.args.xid, reason, flags))
            self.cookies.append(cookie)
            log("inhibited", f"cookie={cookie} flags={flags} reason={reason!r}")
        except dbus.DBusException as error:
            log("inhibit-failed", error.get_dbus_name(), error.get_dbus_message())

    def uninhibit(self):
        for cookie in self.cookies:
            try:
                self.call("Uninhibit", "u", cookie)
                log("uninhibited", f"cookie={cookie}")
            except dbus.DBusException as error:
                log("uninhibit-failed", f"cookie={cookie}", error.get_dbus_name(), error.get_dbus_message())
        self.cookies = []

    def inhibitors(self):
        try:
            paths = self.call("GetInhibitors")
        except dbus.DBusException as error:
            log("inhibitors-failed", error.get_dbus_name(), error.get_dbus_message())
            return
        log("inhibitors", [str(p) for p in paths])
        for path in paths:
            values = []
            # GetClientId answers org.gnome.SessionManager.Inhibitor.NotSet for an inhibitor taken
            # with Inhibit; only the ones gnome-session makes for a client ("Not responding") have one.
            for method in ("GetAppId", "GetReason", "GetFlags", "GetToplevelXid", "GetClientId"):
                try:
                    value = self.call(method, path=path, interface=INHIBITOR)
                    value = int(value) if isinstance(value, (dbus.UInt32, dbus.Int32)) else str(value)
                    values.append(f"{method}={value!r}")
                except dbus.DBusException as error:
                    values.append(f"{method}!{error.get_dbus_name()}")
            log("inhibitor", str(path), *values)

    def respond(self, is_ok, reason):
        if self.path is None:
            log("respond-failed", "not registered")
            return
        try:
            self.call("EndSessionResponse", "bs", is_ok, reason, path=self.path, interface=CLIENT_PRIVATE)
            log("responded", f"is_ok={is_ok} reason={reason!r}")
        except dbus.DBusException as error:
            log("respond-failed", error.get_dbus_name(), error.get_dbus_message())

    # --- signals -------------------------------------------------------------------------------

    def on_owner_changed(self, name, old, new):
        log("NameOwnerChanged", name, f"old={str(old)!r} new={str(new)!r}")
        if old and old == self.owner:
            self.path, self.owner, self.cookies = None, None, []
        if new and self.args.reregister:
            self.register()
            if self.args.inhibit is not None:
                self.inhibit(self.args.inhibit_flags, self.args.inhibit)

    def on_signal(self, *values, member=None, path=None, sender=None):
        mine = path == self.path and sender == self.owner
        log(f"signal {member}", *[int(v) for v in values], f"path={path}", f"sender={sender}",
            "" if mine else "(not ours)")
        if not mine:
            return
        if member == "QueryEndSession":
            self.answer(self.args.query_delay, self.args.query_ok, self.args.query_reason)
        elif member == "EndSession":
            if self.args.uninhibit_on_end:
                self.uninhibit()
            self.answer(self.args.end_delay, self.args.end_ok, self.args.end_reason)
        elif member == "CancelEndSession":
            for source in self.pending:
                GLib.source_remove(source)
            self.pending = []
        elif member == "Stop":
            if self.args.exit_on_stop is not None:
                GLib.timeout_add(int(self.args.exit_on_stop * 1000), self.exit, 0)

    def answer(self, delay, is_ok, reason):
        if delay is None:
            log("not-answering")
            return

        def send():
            self.pending = [s for s in self.pending if s != source]
            self.respond(is_ok, reason)
            return False

        source = GLib.timeout_add(int(delay * 1000), send)
        self.pending.append(source)

    def exit(self, status):
        log("exit", status)
        sys.stdout.flush()
        os._exit(status)

    # --- stdin ---------------------------------------------------------------------------------

    def on_stdin(self, channel, condition):
        line = channel.readline()
        if not line:
            return False  # EOF: keep running
        words = line.split()
        if not words:
            return True
        command, rest = words[0], words[1:]
        try:
            if command == "register":
                self.register(*(rest[:2]))
            elif command == "unregister":
                self.unregister()
            elif command == "inhibit":
                flags = int(rest[0]) if rest else self.args.inhibit_flags
                reason = " ".join(rest[1:]) if len(rest) > 1 else self.args.inhibit
                self.inhibit(flags, reason)
            elif command == "uninhibit":
                self.uninhibit()
            elif command == "inhibitors":
                self.inhibitors()
            elif command == "is-inhibited":
                flags = int(rest[0]) if rest else 1
                log("is-inhibited", flags, bool(self.call("IsInhibited", "u", flags)))
            elif command == "logout":
                mode = int(rest[0]) if rest else 0
                self.call("Logout", "u", mode)
                log("logout-called", mode)
            elif command == "respond":
                self.respond(rest[0] in ("1", "true", "yes"), " ".join(rest[1:]))
            elif command == "call":
                log("call", *rest[:3], self.call(rest[2], path=rest[0], interface=rest[1]))
            elif command == "quit":
                self.exit(0)
            else:
                log("unknown-command", line.strip())
        except dbus.DBusException as error:
            log(f"{command}-failed", error.get_dbus_name(), error.get_dbus_message())
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app-id", default="io.github.quiesce.Agent")
    parser.add_argument("--startup-id", default=os.environ.get("DESKTOP_AUTOSTART_ID", ""))
    parser.add_argument("--no-register", action="store_true", help="do not RegisterClient at start")
    parser.add_argument("--reregister", action="store_true",
                        help="RegisterClient again whenever org.gnome.SessionManager gets a new owner")
    parser.add_argument("--query-delay", type=delay_arg, default=0.0,
                        help="seconds before answering QueryEndSession, or 'never' (default 0)")
    parser.add_argument("--query-ok", type=int, default=1, help="is_ok for QueryEndSession (default 1)")
    parser.add_argument("--query-reason", default="")
    parser.add_argument("--end-delay", type=delay_arg, default=0.0,
                        help="seconds before answering EndSession, or 'never' (default 0)")
    parser.add_argument("--end-ok", type=int, default=1, help="is_ok for EndSession (default 1)")
    parser.add_argument("--end-reason", default="")
    parser.add_argument("--inhibit", metavar="REASON", help="Inhibit at start with this reason")
    parser.add_argument("--inhibit-flags", type=int, default=1, help="flags for --inhibit (default 1, logout)")
    parser.add_argument("--xid", type=int, default=0, help="toplevel_xid for Inhibit (default 0)")
    parser.add_argument("--uninhibit-on-end", action="store_true",
                        help="Uninhibit on EndSession, before answering (the wrong order: gnome-session 43 ends "
                             "the END_SESSION phase as soon as an inhibitor goes, and sends Stop without waiting "
                             "for our answer)")
    parser.add_argument("--exit-on-stop", type=float, metavar="SECONDS", default=0.0,
                        help="exit this long after Stop (default 0)")
    parser.add_argument("--stay-on-stop", dest="exit_on_stop", action="store_const", const=None,
                        help="keep running after Stop")
    args = parser.parse_args()
    args.query_ok, args.end_ok = bool(args.query_ok), bool(args.end_ok)

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    client = Client(args)
    log("started", f"pid={os.getpid()}", f"unique_name={client.bus.get_unique_name()}")
    if not args.no_register:
        client.register()
    if args.inhibit is not None:
        client.inhibit(args.inhibit_flags, args.inhibit)
    channel = GLib.IOChannel.unix_new(sys.stdin.fileno())
    GLib.io_add_watch(channel, GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP, client.on_stdin)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
