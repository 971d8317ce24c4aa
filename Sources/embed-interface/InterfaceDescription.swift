/// What the generated code is made from: one `<interface>` of a D-Bus introspection file, with the
/// object path its `<node>` names.
struct InterfaceDescription {
    /// A `<method>`: its `<arg>`s in the file's order.
    struct Method {
        var name: String
        var arguments: [Argument]
        /// The comment just before the element, for the generated doc comment.
        var comment: String?
        var line: Int

        var inSignature: String { arguments.filter { $0.direction == .in }.map(\.type).joined() }
        var outSignature: String { arguments.filter { $0.direction == .out }.map(\.type).joined() }
    }

    /// An `<arg>` of a method.
    struct Argument {
        enum Direction: String { case `in`, out }
        var name: String?
        var type: String
        var direction: Direction
    }

    /// A `<property>`.
    struct Property {
        var name: String
        var type: String
        var comment: String?
        var line: Int
    }

    /// The object path, from `<node name=…>`.
    var path: String
    /// The interface name, from `<interface name=…>`.
    var interface: String
    var methods: [Method]
    var properties: [Property]
    var signals: [Signal] = []

    /// A signal the object emits: its name and its arguments' types, in order.
    struct Signal {
        var name: String
        var types: [String]
        var argumentNames: [String?]
        var comment: String?
        var line: Int

        var signature: String { types.joined() }
    }
}

/// Why an introspection file cannot be made into code, with where: printed as a compiler
/// diagnostic (`file:line: error: …`) so the build log points at the line to fix.
struct InterfaceFileError: Error, CustomStringConvertible {
    var file: String
    var line: Int?
    var message: String

    var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): error: \(message)"
    }
}
