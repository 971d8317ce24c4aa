import Foundation
import QuiesceDBus
import QuiesceTestSupport
import Testing

/// Our object on a private bus, called by `gdbus` and python-dbus: what they send must come back
/// unchanged, so both our decoding and our encoding are checked by code we did not write.
@Suite("Marshalling against peers we did not write")
struct MarshallingTests {
    /// A private bus with the echo object on a connection of ours; closed after the test.
    struct Rig {
        let bus: PrivateBus
        let connection: BusConnection
    }

    private func withRig(_ body: (Rig) async throws -> Void) async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }
        try connection.export(echoObject(on: connection))
        try await body(Rig(bus: bus, connection: connection))
    }

    private func gdbus(_ rig: Rig, _ method: String, _ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
        let bus = rig.bus, connection = rig.connection
        return try await run("/usr/bin/gdbus", [
            "call", "--address", bus.address, "--dest", connection.uniqueName!, "--object-path", "/io/github/quiesce/Test",
            "--method", "io.github.quiesce.Test.Echo.\(method)",
        ] + arguments)
    }

    @Test("every basic type round-trips through gdbus")
    func basicTypes() async throws {
        try await withRig { rig in
            let result = try await gdbus(rig, "Basic", [
                "byte 200", "true", "int16 -1234", "uint16 54321", "int32 -123456789", "uint32 4000000000",
                "int64 -9000000000000000000", "uint64 18000000000000000000", "3.25", "'héllo wörld'", "objectpath '/a/b_c'",
                "signature 'a{sv}'",
            ])
            #expect(result.status == 0, "\(result.error)")
            #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == """
                (byte 0xc8, true, int16 -1234, uint16 54321, -123456789, uint32 4000000000, int64 -9000000000000000000, uint64 18000000000000000000, 3.25, 'héllo wörld', objectpath '/a/b_c', signature 'a{sv}')
                """)
        }
    }

    @Test("arrays, dictionaries, structs and variants round-trip through gdbus")
    func containers() async throws {
        try await withRig { rig in
            let result = try await gdbus(rig, "Containers", [
                "['a', 'b']", "{'n': <uint32 7>, 's': <'x'>, 'b': <true>}", "[('one', 1), ('two', 2)]", "{'k': 'v'}", "<(1, 'in a variant')>",
            ])
            #expect(result.status == 0, "\(result.error)")
            #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == """
                (['a', 'b'], {'n': <uint32 7>, 's': <'x'>, 'b': <true>}, [('one', 1), ('two', 2)], {'k': 'v'}, <(1, 'in a variant')>)
                """)
        }
    }

    @Test("nested containers and empty ones keep their types")
    func nestedAndEmpty() async throws {
        try await withRig { rig in
            let nested = try await gdbus(rig, "Nested", [
                "{'outer': {'inner': <int64 5>}}", "[['x'], [], ['y', 'z']]", "('s', [(1, 2), (3, 4)])",
            ])
            #expect(nested.status == 0, "\(nested.error)")
            #expect(nested.output.trimmingCharacters(in: .whitespacesAndNewlines) == """
                ({'outer': {'inner': <int64 5>}}, [['x'], [], ['y', 'z']], ('s', [(1, 2), (3, 4)]))
                """)
            let empty = try await gdbus(rig, "Empty", ["@as []", "@a{sv} {}"])
            #expect(empty.output.trimmingCharacters(in: .whitespacesAndNewlines) == "(@as [], @a{sv} {})")
        }
    }

    /// A python-dbus script beside this file.
    private func python(_ rig: Rig, _ script: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String, error: String) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/\(script)").path
        return try await run("/usr/bin/python3", [path, rig.bus.address, rig.connection.uniqueName!] + arguments)
    }

    @Test("every type round-trips through python-dbus with its D-Bus type and variant level")
    func pythonRoundTrips() async throws {
        try await withRig { rig in
            let result = try await python(rig, "roundtrip.py")
            #expect(result.status == 0, "\(result.error)")
            #expect(result.output == "ok Basic\nok Containers\nok Nested\nok Empty\n")
        }
    }

    @Test("PropertiesChanged reaches a python-dbus subscriber with the new value, typed")
    func propertiesChangedSeenByPeer() async throws {
        try await withRig { rig in
            let result = try await python(rig, "properties_changed.py", ["bonjour"])
            #expect(result.status == 0, "\(result.error)")
            #expect(result.output == """
                /io/github/quiesce/Test io.github.quiesce.Test.Echo Greeting=bonjour (String, variant level 1) invalidated=[]
                Get: bonjour

                """)
        }
    }

    @Test("file descriptors pass both ways (python-dbus)")
    func fileDescriptors() async throws {
        try await withRig { rig in
            let bus = rig.bus, connection = rig.connection
            let script = """
                import dbus, os, sys
                bus = dbus.bus.BusConnection(sys.argv[1])
                echo = dbus.Interface(bus.get_object(sys.argv[2], '/io/github/quiesce/Test'), 'io.github.quiesce.Test.Echo')
                r, w = os.pipe()
                os.write(w, b'from python')
                os.close(w)
                print(echo.ReadFD(dbus.types.UnixFd(r)))
                fd = echo.MakeFD().take()
                print(os.read(fd, 100).decode())
                """
            let result = try await run("/usr/bin/python3", ["-c", script, bus.address, connection.uniqueName!])
            #expect(result.status == 0, "\(result.error)")
            #expect(result.output == "from python\nfrom quiesce\n")
        }
    }

    @Test("errors keep their names; wrong signatures and unknown members get the standard errors")
    func errorNames() async throws {
        try await withRig { rig in
            let bus = rig.bus, connection = rig.connection
            let ours = try await gdbus(rig, "Fail", ["'widget'"])
            #expect(ours.status != 0)
            #expect(ours.error.contains("io.github.quiesce.Error.NotFound"))
            #expect(ours.error.contains("no such thing: widget"))

            let wrong = try await gdbus(rig, "Basic", ["42"])
            #expect(wrong.error.contains("org.freedesktop.DBus.Error.InvalidArgs"))
            #expect(wrong.error.contains("takes (ybnqiuxtdsog), not (i)"))

            let unknown = try await gdbus(rig, "Nope", [])
            #expect(unknown.error.contains("org.freedesktop.DBus.Error.UnknownMethod"))

            let nobody = try await run("/usr/bin/dbus-send", [
                "--bus=\(bus.address)", "--print-reply", "--dest=\(connection.uniqueName!)", "/no/such/object", "io.github.quiesce.Test.Echo.Basic",
            ])
            #expect(nobody.error.contains("org.freedesktop.DBus.Error.UnknownObject"))
        }
    }

    @Test("Introspect serves the XML we were given; Properties and Peer answer")
    func standardInterfaces() async throws {
        try await withRig { rig in
            let bus = rig.bus, connection = rig.connection
            let xml = try await run("/usr/bin/gdbus", [
                "introspect", "--address", bus.address, "--dest", connection.uniqueName!, "--object-path", "/io/github/quiesce/Test", "--xml",
            ])
            #expect(xml.output.contains("io.github.quiesce.Test.Echo"))
            let root = try await run("/usr/bin/gdbus", ["introspect", "--address", bus.address, "--dest", connection.uniqueName!, "--object-path", "/", "--xml"])
            #expect(root.output.contains("<node name=\"io\"/>"), "tools can walk down from /")
            let property = try await run("/usr/bin/dbus-send", [
                "--bus=\(bus.address)", "--print-reply=literal", "--dest=\(connection.uniqueName!)", "/io/github/quiesce/Test",
                "org.freedesktop.DBus.Properties.Get", "string:io.github.quiesce.Test.Echo", "string:Greeting",
            ])
            #expect(property.output.contains("hello"))
            let ping = try await run("/usr/bin/dbus-send", [
                "--bus=\(bus.address)", "--print-reply", "--dest=\(connection.uniqueName!)", "/io/github/quiesce/Test", "org.freedesktop.DBus.Peer.Ping",
            ])
            #expect(ping.status == 0)
        }
    }
}
