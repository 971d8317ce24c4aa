"""Calls the echo object with every type we marshal, through python-dbus, and checks that what
comes back is what went out: the same values, the same D-Bus types, the same variant levels.

usage: roundtrip.py ADDRESS BUS_NAME. Prints one "ok METHOD" a method; exits 1 on the first
difference, saying what differs.
"""
import sys

import dbus

bus = dbus.bus.BusConnection(sys.argv[1])
echo = bus.get_object(sys.argv[2], "/io/github/quiesce/Test", introspect=False)

V = dict(variant_level=1)
CASES = {
    "Basic": ("ybnqiuxtdsog", (
        dbus.Byte(200), dbus.Boolean(True), dbus.Int16(-1234), dbus.UInt16(54321),
        dbus.Int32(-123456789), dbus.UInt32(4000000000), dbus.Int64(-9000000000000000000),
        dbus.UInt64(18000000000000000000), dbus.Double(3.25), dbus.String("héllo wörld"),
        dbus.ObjectPath("/a/b_c"), dbus.Signature("a{sv}"),
    )),
    "Containers": ("asa{sv}a(si)a{ss}v", (
        dbus.Array([dbus.String("a"), dbus.String("b")], signature="s"),
        dbus.Dictionary({
            dbus.String("n"): dbus.UInt32(7, **V),
            dbus.String("s"): dbus.String("x", **V),
            dbus.String("b"): dbus.Boolean(False, **V),
            dbus.String("d"): dbus.Double(-0.5, **V),
            dbus.String("o"): dbus.ObjectPath("/x", **V),
            dbus.String("as"): dbus.Array([dbus.String("in"), dbus.String("variant")], signature="s", **V),
        }, signature="sv"),
        dbus.Array([dbus.Struct((dbus.String("one"), dbus.Int32(1))), dbus.Struct((dbus.String("two"), dbus.Int32(2)))], signature="(si)"),
        dbus.Dictionary({dbus.String("k"): dbus.String("v")}, signature="ss"),
        dbus.Struct((dbus.Int32(1), dbus.String("in a variant")), **V),
    )),
    "Nested": ("a{sa{sv}}aas(sa(ii))", (
        dbus.Dictionary({dbus.String("outer"): dbus.Dictionary({dbus.String("inner"): dbus.Int64(5, **V)}, signature="sv")}, signature="sa{sv}"),
        dbus.Array([
            dbus.Array([dbus.String("x")], signature="s"), dbus.Array([], signature="s"),
            dbus.Array([dbus.String("y"), dbus.String("z")], signature="s"),
        ], signature="as"),
        dbus.Struct((dbus.String("s"), dbus.Array([
            dbus.Struct((dbus.Int32(1), dbus.Int32(2))), dbus.Struct((dbus.Int32(3), dbus.Int32(4))),
        ], signature="(ii)"))),
    )),
    "Empty": ("asa{sv}", (dbus.Array([], signature="s"), dbus.Dictionary({}, signature="sv"))),
}


def difference(sent, got, where):
    """Where `got` differs from `sent` in type, variant level, container signature or value."""
    if type(sent) is not type(got):
        return f"{where}: sent {type(sent).__name__}, got {type(got).__name__}"
    if getattr(sent, "variant_level", 0) != getattr(got, "variant_level", 0):
        return f"{where}: variant level {sent.variant_level}, got {got.variant_level}"
    if isinstance(sent, (dbus.Array, dbus.Dictionary)) and sent.signature != got.signature:
        return f"{where}: signature {sent.signature}, got {got.signature}"
    if isinstance(sent, dbus.Dictionary):
        if set(sent) != set(got):
            return f"{where}: keys {sorted(sent)}, got {sorted(got)}"
        return next((d for k in sent if (d := difference(sent[k], got[k], f"{where}[{k!r}]"))), None)
    if isinstance(sent, (dbus.Array, dbus.Struct)):
        if len(sent) != len(got):
            return f"{where}: {len(sent)} elements, got {len(got)}"
        return next((d for i, (s, g) in enumerate(zip(sent, got)) if (d := difference(s, g, f"{where}[{i}]"))), None)
    if sent != got:
        return f"{where}: sent {sent!r}, got {got!r}"
    return None


for method, (signature, arguments) in CASES.items():
    reply = echo.get_dbus_method(method, "io.github.quiesce.Test.Echo")(*arguments, signature=signature)
    reply = reply if isinstance(reply, tuple) else (reply,)
    for index, (sent, got) in enumerate(zip(arguments, reply)):
        if (problem := difference(sent, got, f"{method} argument {index}")):
            sys.exit(problem)
    if len(reply) != len(arguments):
        sys.exit(f"{method}: sent {len(arguments)} arguments, got {len(reply)} back")
    print("ok", method)
