import Glibc
import QuiesceDBus
import Synchronization

/// An object that hands back what it is given, one method per shape of argument, so a peer we
/// did not write can check our marshalling both ways. `SetGreeting` changes the `Greeting`
/// property and announces it with `PropertiesChanged` on `connection`.
func echoObject(on connection: BusConnection) -> ExportedObject {
    let greeting = Mutex("hello")
    func echo(_ name: String, _ signature: String) -> DBusMethod {
        DBusMethod(name, in: signature, out: signature) { call in call.arguments }
    }
    let methods = [
        echo("Basic", "ybnqiuxtdsog"),
        echo("Containers", "asa{sv}a(si)a{ss}v"),
        echo("Nested", "a{sa{sv}}aas(sa(ii))"),
        echo("Empty", "asa{sv}"),
        DBusMethod("ReadFD", in: "h", out: "s") { call in
            guard let fd = call.arguments.first?.unixFD else { throw DBusError(name: .invalidArgs, message: "no fd") }
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = read(fd.rawValue, &buffer, buffer.count)
            return [.string(String(decoding: buffer[..<max(0, count)], as: UTF8.self))]
        },
        DBusMethod("MakeFD", out: "h") { _ in
            var ends: [Int32] = [0, 0]
            pipe(&ends)
            let message = Array("from quiesce".utf8)
            _ = write(ends[1], message, message.count)
            close(ends[1])
            return [.unixFD(OwnedFD(adopting: ends[0]))]
        },
        DBusMethod("SetGreeting", in: "s") { call in
            let new = call.arguments[0].string ?? ""
            greeting.withLock { $0 = new }
            try connection.emitPropertiesChanged(
                path: "/io/github/quiesce/Test", interface: "io.github.quiesce.Test.Echo", changed: ["Greeting": .string(new)])
            return []
        },
        DBusMethod("Fail", in: "s") { call in
            throw DBusError(name: "io.github.quiesce.Error.NotFound", message: "no such thing: \(call.arguments[0].string ?? "")")
        },
    ]
    let xml = """
        <node>
          <interface name="io.github.quiesce.Test.Echo">
            <method name="Basic"/>
            <property name="Greeting" type="s" access="read"/>
          </interface>
        </node>
        """
    return ExportedObject(
        path: "/io/github/quiesce/Test",
        interfaces: [
            DBusInterface(
                "io.github.quiesce.Test.Echo", methods: methods,
                properties: [DBusProperty("Greeting", signature: "s") { .string(greeting.withLock { $0 }) }])
        ],
        introspectionXML: xml)
}
