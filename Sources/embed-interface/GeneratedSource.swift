import Foundation

/// The Swift file made from an interface: extensions of the hand-written type (`AgentInterface` in
/// `Sources/QuiesceInterface`) with the interface and path names, the XML itself, and one constant
/// for each method, property and signal, named in lowerCamelCase after its member ("OpenSession" →
/// `openSession`), with the comment before it in the XML as its doc comment.
///
/// Deterministic: the same file gives the same source, byte for byte (the file's order, no dates,
/// no absolute paths), so the build does not recompile what did not change.
enum GeneratedSource {
    /// - Parameters:
    ///   - description: the parsed file.
    ///   - xml: the file's text, embedded as it is.
    ///   - file: its path, for errors; only its last component goes into the source.
    ///   - typeName: the hand-written type the extensions extend.
    /// - Throws: ``InterfaceFileError`` when two members would get the same Swift name.
    static func render(_ description: InterfaceDescription, xml: String, file: String, typeName: String) throws(InterfaceFileError) -> String {
        let fileName = file.split(separator: "/").last.map(String.init) ?? file
        let methodNames = try identifiers(description.methods.map { ($0.name, $0.line) }, kind: "method", file: file)
        let propertyNames = try identifiers(description.properties.map { ($0.name, $0.line) }, kind: "property", file: file)
        let signalNames = try identifiers(description.signals.map { ($0.name, $0.line) }, kind: "signal", file: file)

        var lines = [
            "// Generated at build time from \(fileName) by embed-interface (the EmbedInterface plugin).",
            "// Do not edit: change the XML. The types extended here are hand-written beside this file's target.",
            "",
            "extension \(typeName) {",
            "    /// The interface's name (`<interface name=…>` in \(fileName)).",
            "    public static let interface = \"\(description.interface)\"",
            "    /// The object's path (`<node name=…>` in \(fileName)).",
            "    public static let path = \"\(description.path)\"",
            "    /// \(fileName) itself, as `Introspect` serves it.",
            "    public static let introspectionXML = \(rawStringLiteral(xml, indent: "    "))",
            "}",
            "",
            "extension \(typeName).Method {",
        ]
        for (method, identifier) in zip(description.methods, methodNames) {
            lines += docComment(summary: summary(of: method), comment: method.comment)
            lines.append("    public static let \(identifier) = Self(name: \"\(method.name)\", in: \"\(method.inSignature)\", out: \"\(method.outSignature)\")")
            lines.append("")
        }
        lines += allList(methodNames, of: "method")
        lines += ["}", "", "extension \(typeName).Property {"]
        for (property, identifier) in zip(description.properties, propertyNames) {
            lines += docComment(summary: "`\(property.name)`: `\(property.type)`, read-only.", comment: property.comment)
            lines.append("    public static let \(identifier) = Self(name: \"\(property.name)\", signature: \"\(property.type)\")")
            lines.append("")
        }
        lines += allList(propertyNames, of: "property")
        lines += ["}", "", "extension \(typeName).Signal {"]
        for (signal, identifier) in zip(description.signals, signalNames) {
            let arguments = zip(signal.types, signal.argumentNames).map { [$0, $1].compactMap { $0 }.joined(separator: " ") }
            lines += docComment(summary: "`\(signal.name)(\(arguments.joined(separator: ", ")))`, emitted.", comment: signal.comment)
            lines.append("    public static let \(identifier) = Self(name: \"\(signal.name)\", signature: \"\(signal.signature)\")")
            lines.append("")
        }
        lines += allList(signalNames, of: "signal")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `OpenSession(s label, a{sv} options) → s id`.
    private static func summary(of method: InterfaceDescription.Method) -> String {
        func list(_ direction: InterfaceDescription.Argument.Direction) -> [String] {
            method.arguments.filter { $0.direction == direction }.map { [$0.type, $0.name].compactMap { $0 }.joined(separator: " ") }
        }
        let outputs = list(.out)
        let reply = switch outputs.count {
        case 0: ""
        case 1: " → \(outputs[0])"
        default: " → (\(outputs.joined(separator: ", ")))"
        }
        return "`\(method.name)(\(list(.in).joined(separator: ", ")))\(reply)`"
    }

    /// A doc comment: the summary, then the XML's comment with its lines' indentation removed.
    private static func docComment(summary: String, comment: String?) -> [String] {
        var lines = (comment ?? "").split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        while lines.last?.isEmpty == true { lines.removeLast() }
        let body = lines.isEmpty ? [] : [""] + lines
        return ([summary] + body).map { $0.isEmpty ? "    ///" : "    /// \($0)" }
    }

    private static func allList(_ identifiers: [String], of kind: String) -> [String] {
        guard !identifiers.isEmpty else { return ["    /// Every \(kind) of the interface: none.", "    public static let all: [Self] = []"] }
        return ["    /// Every \(kind) of the interface, in the file's order.", "    public static let all: [Self] = ["]
            + identifiers.map { "        .\($0)," } + ["    ]"]
    }

    /// The Swift names of members, checked to be distinct and not `all`.
    private static func identifiers(_ members: [(name: String, line: Int)], kind: String, file: String) throws(InterfaceFileError) -> [String] {
        var seen: [String: String] = [:]
        var identifiers: [String] = []
        for member in members {
            let identifier = lowerCamelCase(member.name)
            if identifier == "all" {
                throw InterfaceFileError(file: file, line: member.line, message: "the \(kind) \(member.name) would be named `all`, which holds the list of every \(kind)")
            }
            if let other = seen[identifier] {
                throw InterfaceFileError(file: file, line: member.line, message: "the \(kind)s \(other) and \(member.name) would both be named `\(identifier)` in Swift")
            }
            seen[identifier] = member.name
            identifiers.append(keywords.contains(identifier) ? "`\(identifier)`" : identifier)
        }
        return identifiers
    }

    /// "OpenSession" → "openSession", "ID" → "id", "URLPath" → "urlPath": the leading capitals in
    /// lower case, except the last of several when a lower-case letter follows it.
    static func lowerCamelCase(_ name: String) -> String {
        let characters = Array(name)
        let capitals = characters.prefix { $0.isUppercase }.count
        guard capitals > 0 else { return name }
        let lowered = capitals == 1 || capitals == characters.count ? capitals : capitals - 1
        return String(characters[..<lowered]).lowercased() + String(characters[lowered...])
    }

    /// Swift keywords a lowerCamelCase member name could become; such names are written in backticks.
    private static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout", "internal", "let",
        "open", "operator", "private", "precedencegroup", "protocol", "public", "rethrows", "static", "struct", "subscript",
        "typealias", "var", "break", "case", "catch", "continue", "default", "defer", "do", "else", "fallthrough", "for", "guard",
        "if", "in", "repeat", "return", "throw", "switch", "where", "while", "as", "false", "is", "nil", "self", "super", "throws",
        "true", "try", "await", "some", "any",
    ]

    /// A multi-line raw string literal whose value is `text` exactly, its lines indented by `indent`
    /// (the closing delimiter's indentation, which Swift removes), with enough `#`s that nothing in
    /// the text can end it or start an escape.
    static func rawStringLiteral(_ text: String, indent: String) -> String {
        var hashes = "#"
        while text.contains("\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
        let body = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : indent + $0 }
        return "\(hashes)\"\"\"\n" + body.joined(separator: "\n") + "\n\(indent)\"\"\"\(hashes)"
    }
}
