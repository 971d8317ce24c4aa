import Foundation
import QuiesceInterface
import Testing

/// The constants the EmbedInterface plugin generates, checked against the XML they come from.
@Suite("AgentInterface: generated from dbus/io.github.quiesce.Agent1.xml")
struct GeneratedInterfaceTests {
    let file: InterfaceFile

    init() throws {
        file = try InterfaceFile()
    }

    @Test("every method of the XML, with its in and out signatures, in the file's order, and no other")
    func methods() {
        #expect(!file.methods.isEmpty, "the test read no method from \(InterfaceFile.url.path)")
        let generated = AgentInterface.Method.all.map {
            InterfaceFile.Method(name: $0.name, inSignature: $0.inSignature, outSignature: $0.outSignature)
        }
        #expect(generated == file.methods)
        #expect(Set(AgentInterface.Method.all.map(\.name)).count == AgentInterface.Method.all.count, "no method twice")
    }

    @Test("every property of the XML, with its type, in the file's order, and no other")
    func properties() {
        #expect(!file.properties.isEmpty, "the test read no property from \(InterfaceFile.url.path)")
        let generated = AgentInterface.Property.all.map { InterfaceFile.Property(name: $0.name, signature: $0.signature) }
        #expect(generated == file.properties)
    }

    @Test("every signal of the XML, with its signature, in the file's order, and no other")
    func signals() {
        #expect(!file.signals.isEmpty, "the test read no signal from \(InterfaceFile.url.path)")
        let generated = AgentInterface.Signal.all.map { InterfaceFile.Property(name: $0.name, signature: $0.signature) }
        #expect(generated == file.signals)
    }

    @Test("the names: interface and path from the XML, the bus name the interface's")
    func names() {
        #expect(AgentInterface.interface == file.interface)
        #expect(AgentInterface.path == file.path)
        #expect(AgentInterface.busName == file.interface)
    }

    @Test("Introspect serves the file byte for byte")
    func introspectionXML() {
        #expect(AgentInterface.introspectionXML == file.text)
    }

    @Test("each constant is named after its member in lowerCamelCase")
    func constantNames() {
        #expect(AgentInterface.Method.openSession.name == "OpenSession")
        #expect(AgentInterface.Method.listJobs == AgentInterface.Method.all.first { $0.name == "ListJobs" })
        #expect(AgentInterface.Property.inFlightJobs.name == "InFlightJobs")
        #expect(AgentInterface.Method.openSession.description == "OpenSession(sa{sv}) → s")
    }
}
