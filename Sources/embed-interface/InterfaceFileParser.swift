import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Reads a D-Bus introspection file into an ``InterfaceDescription``, with `XMLParser`, checking
/// what the generated code relies on: one `<node name="/object/path">` holding one `<interface>`,
/// valid member names, no name twice, and a single complete D-Bus type on every `<arg>` and
/// `<property>`, `<signal>`. Anything else (an unknown element) is refused rather than skipped,
/// so nothing in the file the agent serves goes unimplemented without the build saying so.
///
/// The external DTD the file names is not fetched (`XMLParser` does not resolve external
/// entities by default): builds run offline.
final class InterfaceFileParser: NSObject, XMLParserDelegate {
    /// Reads and checks `data`, the contents of the file at `path`.
    /// - Throws: ``InterfaceFileError`` naming the file, the line and what is wrong.
    static func parse(_ data: Data, path: String) throws(InterfaceFileError) -> InterfaceDescription {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let reader = InterfaceFileParser(file: path)
        let parser = XMLParser(data: data)
        parser.delegate = reader
        parser.shouldResolveExternalEntities = false
        let parsed = parser.parse()
        if let problem = reader.problem { throw problem }
        guard parsed else {
            let error = reader.syntaxError
                ?? (code: parser.parserError.map { ($0 as NSError).code } ?? 0, line: parser.lineNumber, column: parser.columnNumber)
            throw InterfaceFileError(
                file: path, line: error.line,
                message: "\(name) is not well-formed XML: \(Self.explain(libxml2Error: error.code)), near column \(error.column)")
        }
        // XMLParser on Linux takes a file that stops early for a complete one.
        if let unclosed = reader.open.last {
            throw InterfaceFileError(file: path, line: parser.lineNumber, message: "\(name) ends before <\(unclosed)> is closed")
        }
        guard let objectPath = reader.path else { throw InterfaceFileError(file: path, message: "\(name) has no <node> element") }
        guard let interface = reader.interface else {
            throw InterfaceFileError(file: path, message: "\(name) declares no <interface> in its <node>")
        }
        return InterfaceDescription(
            path: objectPath, interface: interface, methods: reader.methods, properties: reader.properties, signals: reader.signals)
    }

    private let file: String
    /// The open elements, outermost first.
    private var open: [String] = []
    /// The last comment read, until the next element starts or ends: a method's or property's.
    private var comment: String?
    private var path: String?
    private var interface: String?
    private var methods: [InterfaceDescription.Method] = []
    private var properties: [InterfaceDescription.Property] = []
    private var signals: [InterfaceDescription.Signal] = []
    /// The first thing found wrong; parsing stops there.
    private var problem: InterfaceFileError?
    /// Where the XML itself was first found broken, and libxml2's code for what.
    private var syntaxError: (code: Int, line: Int, column: Int)?

    private init(file: String) {
        self.file = file
    }

    /// What may appear inside each element (the root is a `<node>`).
    private static let children: [String: Set<String>] = [
        "node": ["interface", "annotation"],
        "interface": ["method", "property", "signal", "annotation"],
        "method": ["arg", "annotation"],
        "signal": ["arg", "annotation"],
        "property": ["annotation"],
        "arg": ["annotation"],
        "annotation": [],
    ]

    func parser(
        _ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        let line = parser.lineNumber
        let comment = self.comment.take()
        do throws(InterfaceFileError) {
            if let parent = open.last {
                guard Self.children[parent]?.contains(element) == true else {
                    throw failure(line, "<\(element)> is not expected inside <\(parent)>")
                }
            } else if element != "node" {
                throw failure(line, "the root element is <\(element)>; an introspection file's is <node>")
            }
            open.append(element)
            switch element {
            case "node":
                let name = try required("name", of: "<node>", attributes, line)
                guard Self.isObjectPath(name) else { throw failure(line, "<node name=\"\(name)\">: the name must be the object path, such as /io/example/Thing") }
                path = name
            case "interface":
                guard interface == nil else { throw failure(line, "a second <interface>: embed-interface generates code for one interface a file") }
                let name = try required("name", of: "<interface>", attributes, line)
                guard Self.isInterfaceName(name) else { throw failure(line, "\"\(name)\" is not a valid D-Bus interface name") }
                interface = name
            case "method":
                let name = try memberName(attributes, "<method>", line)
                if let first = methods.first(where: { $0.name == name }) {
                    throw failure(line, "the method \(name) is declared twice (first on line \(first.line))")
                }
                methods.append(.init(name: name, arguments: [], comment: comment, line: line))
            case "signal":
                let name = try memberName(attributes, "<signal>", line)
                if let first = signals.first(where: { $0.name == name }) {
                    throw failure(line, "the signal \(name) is declared twice (first on line \(first.line))")
                }
                signals.append(.init(name: name, types: [], argumentNames: [], comment: comment, line: line))
            case "arg" where open.dropLast().last == "signal":
                let signal = signals[signals.count - 1].name
                let label = attributes["name"].map { "arg \"\($0)\" of the signal \(signal)" } ?? "an arg of the signal \(signal)"
                guard let type = attributes["type"] else { throw failure(line, "\(label) has no type attribute") }
                if let problem = SignatureCheck.problem(in: type) { throw failure(line, "\(label) has the type \"\(type)\": \(problem)") }
                guard (attributes["direction"] ?? "out") == "out" else {
                    throw failure(line, "\(label) has the direction \"\(attributes["direction"] ?? "")\"; a signal's arguments only go out")
                }
                signals[signals.count - 1].types.append(type)
                signals[signals.count - 1].argumentNames.append(attributes["name"])
            case "arg":
                let method = methods[methods.count - 1].name
                let label = attributes["name"].map { "arg \"\($0)\" of the method \(method)" } ?? "an arg of the method \(method)"
                guard let type = attributes["type"] else { throw failure(line, "\(label) has no type attribute") }
                if let problem = SignatureCheck.problem(in: type) { throw failure(line, "\(label) has the type \"\(type)\": \(problem)") }
                guard let direction = InterfaceDescription.Argument.Direction(rawValue: attributes["direction"] ?? "in") else {
                    throw failure(line, "\(label) has the direction \"\(attributes["direction"] ?? "")\"; use in or out")
                }
                methods[methods.count - 1].arguments.append(.init(name: attributes["name"], type: type, direction: direction))
            case "property":
                let name = try memberName(attributes, "<property>", line)
                if let first = properties.first(where: { $0.name == name }) {
                    throw failure(line, "the property \(name) is declared twice (first on line \(first.line))")
                }
                guard let type = attributes["type"] else { throw failure(line, "the property \(name) has no type attribute") }
                if let problem = SignatureCheck.problem(in: type) { throw failure(line, "the property \(name) has the type \"\(type)\": \(problem)") }
                guard attributes["access"] == "read" else {
                    throw failure(
                        line,
                        "the property \(name) has access=\"\(attributes["access"] ?? "")\"; only read is supported (the exported object has no setter)")
                }
                properties.append(.init(name: name, type: type, comment: comment, line: line))
            default:
                break
            }
        } catch {
            problem = error
            parser.abortParsing()
        }
    }

    func parser(_ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?) {
        comment = nil
        open.removeLast()
    }

    func parser(_ parser: XMLParser, parseErrorOccurred error: any Error) {
        // libxml2 goes on after the first error, and the parser's position at the end says nothing.
        if syntaxError == nil {
            syntaxError = (code: (error as NSError).code, line: parser.lineNumber, column: parser.columnNumber)
        }
    }

    func parser(_ parser: XMLParser, foundComment comment: String) {
        self.comment = comment
    }

    // MARK: Checks

    /// What libxml2's error code means, for the mistakes a hand-edited file makes. (On Linux the
    /// error's description is only "The operation could not be completed", and the names of
    /// `XMLParser.ErrorCode` do not match libxml2's numbers.)
    static func explain(libxml2Error code: Int) -> String {
        switch code {
        case 4: "the file is empty"
        case 5: "something follows the root element"
        case 9: "a character XML does not allow"
        case 23: "an entity reference (&…) without its ;"
        case 26: "an undefined entity (&…;)"
        case 38: "a < inside an attribute value"
        case 39, 41, 43: "an attribute value without quotes"
        case 42: "an attribute given twice"
        case 45: "a comment that is not closed"
        case 65: "a space is missing between attributes"
        case 68: "a name is missing"
        case 73: "a > is missing"
        case 76: "a closing tag does not match the element it closes"
        case 77: "an element is not closed"
        default: "libxml2 error \(code)"
        }
    }

    private func failure(_ line: Int, _ message: String) -> InterfaceFileError {
        InterfaceFileError(file: file, line: line, message: message)
    }

    private func required(_ attribute: String, of element: String, _ attributes: [String: String], _ line: Int) throws(InterfaceFileError) -> String {
        guard let value = attributes[attribute] else { throw failure(line, "\(element) has no \(attribute) attribute") }
        return value
    }

    private func memberName(_ attributes: [String: String], _ element: String, _ line: Int) throws(InterfaceFileError) -> String {
        let name = try required("name", of: element, attributes, line)
        guard Self.isMemberName(name) else {
            throw failure(line, "\(element) name=\"\(name)\" is not a valid D-Bus member name (letters, digits and _, not starting with a digit)")
        }
        return name
    }

    /// A member name: 1 to 255 of `[A-Za-z0-9_]`, not starting with a digit.
    static func isMemberName(_ name: some StringProtocol) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 255, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isASCIILetterOrDigit($0) }
    }

    /// An interface name: two or more dot-separated elements, each a member name; 255 at most.
    static func isInterfaceName(_ name: String) -> Bool {
        let elements = name.split(separator: ".", omittingEmptySubsequences: false)
        return name.utf8.count <= 255 && elements.count >= 2 && elements.allSatisfy(isMemberName)
    }

    /// An object path: "/" or "/"-separated non-empty elements of `[A-Za-z0-9_]`.
    static func isObjectPath(_ path: String) -> Bool {
        guard path != "/" else { return true }
        guard path.hasPrefix("/") else { return false }
        let elements = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        return elements.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isASCIILetterOrDigit($0) } }
    }

    private static func isASCIILetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
