/// A JSON value and its text, keys sorted: all `--json` output needs, without Foundation.
enum JSONValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    case string(String)
    case bool(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    case array([JSONValue])
    case object([String: JSONValue])

    init(stringLiteral value: String) { self = .string(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }

    /// The value as one line of JSON.
    var text: String {
        switch self {
        case .string(let value): Self.quoted(value)
        case .bool(let value): value ? "true" : "false"
        case .integer(let value): "\(value)"
        case .unsigned(let value): "\(value)"
        case .array(let values): "[" + values.map(\.text).joined(separator: ",") + "]"
        case .object(let members):
            "{" + members.keys.sorted().map { Self.quoted($0) + ":" + members[$0]!.text }.joined(separator: ",") + "}"
        }
    }

    /// A string in quotes, escaped as RFC 8259 asks (and `/` as JSONSerialization did).
    private static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/": out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Prints a JSON value on one line.
func printJSON(_ value: JSONValue) {
    print(value.text)
}

/// Prints a JSON object on one line.
func printJSON(_ members: [String: JSONValue]) {
    print(JSONValue.object(members).text)
}

/// Prints a JSON array of objects on one line.
func printJSON(_ objects: [[String: JSONValue]]) {
    print(JSONValue.array(objects.map(JSONValue.object)).text)
}
