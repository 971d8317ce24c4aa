import CDBus

/// Appends ``DBusValue``s to a message body through `DBusMessageIter` (libdbus's variadic
/// `dbus_message_append_args` does not import into Swift).
enum MessageWriter {
    static func append(_ values: [DBusValue], to message: OpaquePointer) throws(DBusError) {
        var iterator = DBusMessageIter()
        dbus_message_iter_init_append(message, &iterator)
        for value in values {
            try append(value, to: &iterator)
        }
    }

    static func append(_ value: DBusValue, to iterator: inout DBusMessageIter) throws(DBusError) {
        switch value {
        case .byte(let v): try basic(&iterator, QDBUS_TYPE_BYTE, v)
        // dbus_bool_t is a 4-byte integer: never append a Swift Bool.
        case .boolean(let v): try basic(&iterator, QDBUS_TYPE_BOOLEAN, dbus_bool_t(v ? 1 : 0))
        case .int16(let v): try basic(&iterator, QDBUS_TYPE_INT16, v)
        case .uint16(let v): try basic(&iterator, QDBUS_TYPE_UINT16, v)
        case .int32(let v): try basic(&iterator, QDBUS_TYPE_INT32, v)
        case .uint32(let v): try basic(&iterator, QDBUS_TYPE_UINT32, v)
        case .int64(let v): try basic(&iterator, QDBUS_TYPE_INT64, v)
        case .uint64(let v): try basic(&iterator, QDBUS_TYPE_UINT64, v)
        case .double(let v): try basic(&iterator, QDBUS_TYPE_DOUBLE, v)
        case .string(let v):
            try Validation.string(v)
            try text(&iterator, QDBUS_TYPE_STRING, v)
        case .objectPath(let v):
            try Validation.path(v)
            try text(&iterator, QDBUS_TYPE_OBJECT_PATH, v)
        case .signature(let v):
            try Validation.signature(v)
            try text(&iterator, QDBUS_TYPE_SIGNATURE, v)
        case .unixFD(let fd):
            guard fd.isOpen else { throw .invalidArgument("a file descriptor argument is already closed") }
            // libdbus duplicates the descriptor; ours stays open and owned.
            try basic(&iterator, QDBUS_TYPE_UNIX_FD, fd.rawValue)
        case .array(let element, let items):
            try Validation.signature(element)
            try container(&iterator, QDBUS_TYPE_ARRAY, element) { (inner: inout DBusMessageIter) throws(DBusError) in
                // Integers in one block (an Enqueue's reply lists every job of a folder: 100,000
                // ids appended one by one, each checked, took 20 ms).
                switch element {
                case "t": return try fixed(&inner, QDBUS_TYPE_UINT64, items, element) { if case .uint64(let v) = $0 { v } else { nil } }
                case "x": return try fixed(&inner, QDBUS_TYPE_INT64, items, element) { if case .int64(let v) = $0 { v } else { nil } }
                case "u": return try fixed(&inner, QDBUS_TYPE_UINT32, items, element) { if case .uint32(let v) = $0 { v } else { nil } }
                case "i": return try fixed(&inner, QDBUS_TYPE_INT32, items, element) { if case .int32(let v) = $0 { v } else { nil } }
                default: break
                }
                for item in items {
                    guard item.signature == element else {
                        throw .invalidArgument("an array of \(element) holds a \(item.signature)")
                    }
                    try append(item, to: &inner)
                }
            }
        case .dictionary(let key, let valueSignature, let entries):
            let element = "{" + key + valueSignature + "}"
            try Validation.signature("a" + element)
            try container(&iterator, QDBUS_TYPE_ARRAY, element) { (inner: inout DBusMessageIter) throws(DBusError) in
                for entry in entries {
                    guard entry.key.signature == key, entry.value.signature == valueSignature else {
                        throw .invalidArgument("a dictionary a\(element) holds a \(entry.key.signature) → \(entry.value.signature) entry")
                    }
                    try container(&inner, QDBUS_TYPE_DICT_ENTRY, nil) { (pair: inout DBusMessageIter) throws(DBusError) in
                        try append(entry.key, to: &pair)
                        try append(entry.value, to: &pair)
                    }
                }
            }
        case .structure(let fields):
            guard !fields.isEmpty else { throw .invalidArgument("a struct needs at least one field") }
            try container(&iterator, QDBUS_TYPE_STRUCT, nil) { (inner: inout DBusMessageIter) throws(DBusError) in
                for field in fields { try append(field, to: &inner) }
            }
        case .variant(let inner):
            try container(&iterator, QDBUS_TYPE_VARIANT, inner.signature) { (contents: inout DBusMessageIter) throws(DBusError) in
                try append(inner, to: &contents)
            }
        }
    }

    private static func basic<T: BitwiseCopyable>(_ iterator: inout DBusMessageIter, _ type: Int32, _ value: T) throws(DBusError) {
        var copy = value
        let appended = withUnsafeBytes(of: &copy) { dbus_message_iter_append_basic(&iterator, type, $0.baseAddress) }
        guard appended != 0 else {
            throw DBusError(name: .noMemory, message: "cannot append a value of type \(Character(UnicodeScalar(UInt8(type))))")
        }
    }

    /// Appends `items`, all of one fixed-size integer type, with one call.
    private static func fixed<T: BitwiseCopyable>(
        _ iterator: inout DBusMessageIter, _ type: Int32, _ items: [DBusValue], _ element: String, _ value: (DBusValue) -> T?
    ) throws(DBusError) {
        var values: [T] = []
        values.reserveCapacity(items.count)
        for item in items {
            guard let number = value(item) else { throw .invalidArgument("an array of \(element) holds a \(item.signature)") }
            values.append(number)
        }
        let appended = values.withUnsafeBufferPointer { buffer -> dbus_bool_t in
            var start: UnsafePointer<T>? = buffer.baseAddress
            return dbus_message_iter_append_fixed_array(&iterator, type, &start, Int32(buffer.count))
        }
        guard appended != 0 else { throw DBusError(name: .noMemory, message: "cannot append an array of \(element)") }
    }

    private static func text(_ iterator: inout DBusMessageIter, _ type: Int32, _ value: String) throws(DBusError) {
        let appended = value.withCString { pointer -> dbus_bool_t in
            var text: UnsafePointer<CChar>? = pointer
            return dbus_message_iter_append_basic(&iterator, type, &text)
        }
        guard appended != 0 else { throw DBusError(name: .noMemory, message: "cannot append a string") }
    }

    private static func container(
        _ iterator: inout DBusMessageIter, _ type: Int32, _ signature: String?,
        _ body: (inout DBusMessageIter) throws(DBusError) -> Void
    ) throws(DBusError) {
        var inner = DBusMessageIter()
        let opened = signature.map { dbus_message_iter_open_container(&iterator, type, $0, &inner) }
            ?? dbus_message_iter_open_container(&iterator, type, nil, &inner)
        guard opened != 0 else { throw DBusError(name: .noMemory, message: "cannot open a container") }
        do {
            try body(&inner)
        } catch {
            dbus_message_iter_abandon_container(&iterator, &inner)
            throw error
        }
        guard dbus_message_iter_close_container(&iterator, &inner) != 0 else {
            throw DBusError(name: .noMemory, message: "cannot close a container")
        }
    }
}
