import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// `dbus/io.github.quiesce.Agent1.xml` read at test time, with `XMLParser` and without the
/// generator's code, so the tests compare the generated constants with the file itself.
struct InterfaceFile {
    struct Method: Equatable, CustomStringConvertible {
        var name: String
        var inSignature = ""
        var outSignature = ""
        var description: String { "\(name)(\(inSignature)) → \(outSignature)" }
    }

    struct Property: Equatable, CustomStringConvertible {
        var name: String
        var signature: String
        var description: String { "\(name): \(signature)" }
    }

    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("dbus/io.github.quiesce.Agent1.xml")

    var text: String
    var path = ""
    var interface = ""
    var methods: [Method] = []
    var properties: [Property] = []
    var signals: [Property] = []

    init() throws {
        let data = try Data(contentsOf: Self.url)
        text = String(decoding: data, as: UTF8.self)
        let reader = Reader()
        let parser = XMLParser(data: data)
        parser.delegate = reader
        guard parser.parse() else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: Self.url.path]) }
        path = reader.path
        interface = reader.interface
        methods = reader.methods
        properties = reader.properties
        signals = reader.signals
    }

    /// Collects the elements the tests compare; the generator's own checks are not repeated.
    private final class Reader: NSObject, XMLParserDelegate {
        var path = ""
        var interface = ""
        var methods: [Method] = []
        var properties: [Property] = []
        /// Signals: name and signature, as a property's.
        var signals: [Property] = []
        private var inSignal = false

        func parser(_ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?) {
            if element == "signal" { inSignal = false }
        }

        func parser(
            _ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            switch element {
            case "node": path = attributes["name"] ?? ""
            case "interface": interface = attributes["name"] ?? ""
            case "method": methods.append(Method(name: attributes["name"] ?? ""))
            case "signal":
                inSignal = true
                signals.append(Property(name: attributes["name"] ?? "", signature: ""))
            case "arg" where inSignal: signals[signals.count - 1].signature += attributes["type"] ?? ""
            case "arg" where attributes["direction"] == "out": methods[methods.count - 1].outSignature += attributes["type"] ?? ""
            case "arg": methods[methods.count - 1].inSignature += attributes["type"] ?? ""
            case "property": properties.append(Property(name: attributes["name"] ?? "", signature: attributes["type"] ?? ""))
            default: break
            }
        }
    }
}
