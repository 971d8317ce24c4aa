import CDBus

/// Decodes a message body into ``DBusValue``s. Whatever arrives from the bus, the result is values
/// or an error; nothing here can crash on malformed input (libdbus has already validated the wire
/// format, and every type code is handled or reported).
enum MessageReader {
    static func read(_ message: OpaquePointer) throws(DBusError) -> [DBusValue] {
        var iterator = DBusMessageIter()
        guard dbus_message_iter_init(message, &iterator) != 0 else { return [] }
        var values: [DBusValue] = []
        try readAll(&iterator, into: &values)
        return values
    }

    private static func readAll(_ iterator: inout DBusMessageIter, into values: inout [DBusValue]) throws(DBusError) {
        while dbus_message_iter_get_arg_type(&iterator) != QDBUS_TYPE_INVALID {
            values.append(try value(&iterator))
            dbus_message_iter_next(&iterator)
        }
    }

    private static func value(_ iterator: inout DBusMessageIter) throws(DBusError) -> DBusValue {
        let type = dbus_message_iter_get_arg_type(&iterator)
        switch type {
        case QDBUS_TYPE_BYTE: return .byte(basic(&iterator, UInt8(0)))
        case QDBUS_TYPE_BOOLEAN: return .boolean(basic(&iterator, dbus_bool_t(0)) != 0)
        case QDBUS_TYPE_INT16: return .int16(basic(&iterator, Int16(0)))
        case QDBUS_TYPE_UINT16: return .uint16(basic(&iterator, UInt16(0)))
        case QDBUS_TYPE_INT32: return .int32(basic(&iterator, Int32(0)))
        case QDBUS_TYPE_UINT32: return .uint32(basic(&iterator, UInt32(0)))
        case QDBUS_TYPE_INT64: return .int64(basic(&iterator, Int64(0)))
        case QDBUS_TYPE_UINT64: return .uint64(basic(&iterator, UInt64(0)))
        case QDBUS_TYPE_DOUBLE: return .double(basic(&iterator, Double(0)))
        case QDBUS_TYPE_STRING: return .string(text(&iterator))
        case QDBUS_TYPE_OBJECT_PATH: return .objectPath(text(&iterator))
        case QDBUS_TYPE_SIGNATURE: return .signature(text(&iterator))
        case QDBUS_TYPE_UNIX_FD:
            // get_basic hands out a duplicate we own; the message keeps its own copy.
            let descriptor = basic(&iterator, Int32(-1))
            guard descriptor >= 0 else { throw .malformed("a file descriptor argument could not be received") }
            return .unixFD(OwnedFD(adopting: descriptor))
        case QDBUS_TYPE_VARIANT:
            var inner = DBusMessageIter()
            dbus_message_iter_recurse(&iterator, &inner)
            return .variant(try value(&inner))
        case QDBUS_TYPE_STRUCT:
            var inner = DBusMessageIter()
            dbus_message_iter_recurse(&iterator, &inner)
            var fields: [DBusValue] = []
            try readAll(&inner, into: &fields)
            return .structure(fields)
        case QDBUS_TYPE_ARRAY:
            let full = signature(of: &iterator)
            guard full.hasPrefix("a") else { throw .malformed("array with signature \(full)") }
            let element = String(full.dropFirst())
            var inner = DBusMessageIter()
            dbus_message_iter_recurse(&iterator, &inner)
            if dbus_message_iter_get_element_type(&iterator) == QDBUS_TYPE_DICT_ENTRY {
                let (key, valueSignature) = try splitEntry(element)
                var entries: [DBusDictEntry] = []
                while dbus_message_iter_get_arg_type(&inner) == QDBUS_TYPE_DICT_ENTRY {
                    var pair = DBusMessageIter()
                    dbus_message_iter_recurse(&inner, &pair)
                    let key = try value(&pair)
                    guard dbus_message_iter_next(&pair) != 0 else { throw .malformed("a dictionary entry without a value") }
                    entries.append(DBusDictEntry(key: key, value: try value(&pair)))
                    dbus_message_iter_next(&inner)
                }
                return .dictionary(key: key, value: valueSignature, entries)
            }
            var items: [DBusValue] = []
            try readAll(&inner, into: &items)
            return .array(element: element, items)
        default:
            throw .malformed("unsupported D-Bus type code \(type)")
        }
    }

    private static func basic<T: BitwiseCopyable>(_ iterator: inout DBusMessageIter, _ initial: T) -> T {
        var value = initial
        withUnsafeMutableBytes(of: &value) { dbus_message_iter_get_basic(&iterator, $0.baseAddress) }
        return value
    }

    /// Strings from get_basic are borrowed from the message: copied here at once.
    private static func text(_ iterator: inout DBusMessageIter) -> String {
        var pointer: UnsafePointer<CChar>?
        dbus_message_iter_get_basic(&iterator, &pointer)
        return pointer.map { String(cString: $0) } ?? ""
    }

    private static func signature(of iterator: inout DBusMessageIter) -> String {
        guard let raw = dbus_message_iter_get_signature(&iterator) else { return "" }
        defer { dbus_free(raw) }
        return String(cString: raw)
    }

    /// "{sv}" → ("s", "v").
    private static func splitEntry(_ element: String) throws(DBusError) -> (String, String) {
        guard element.hasPrefix("{"), element.hasSuffix("}"), element.count >= 4 else {
            throw .malformed("dictionary entry signature \(element)")
        }
        let inside = element.dropFirst().dropLast()
        let key = String(inside.prefix(1))
        return (key, String(inside.dropFirst()))
    }
}
