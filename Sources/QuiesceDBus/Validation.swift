import CDBus

/// Checks names and paths before they reach libdbus, which treats invalid ones as programming
/// errors (a warning, or an abort when warnings are fatal). Here they are error values.
enum Validation {
    static func path(_ value: String) throws(DBusError) {
        guard check(value, dbus_validate_path) else { throw .invalidArgument("\"\(value)\" is not a valid object path") }
    }

    static func interface(_ value: String) throws(DBusError) {
        guard check(value, dbus_validate_interface) else { throw .invalidArgument("\"\(value)\" is not a valid interface name") }
    }

    static func member(_ value: String) throws(DBusError) {
        guard check(value, dbus_validate_member) else { throw .invalidArgument("\"\(value)\" is not a valid member name") }
    }

    static func busName(_ value: String) throws(DBusError) {
        guard check(value, dbus_validate_bus_name) else { throw .invalidArgument("\"\(value)\" is not a valid bus name") }
    }

    static func signature(_ value: String) throws(DBusError) {
        var error = quiesce_dbus_error_make()
        guard !value.contains("\0"), dbus_signature_validate(value, &error) != 0 else {
            dbus_error_free(&error)
            throw .invalidArgument("\"\(value)\" is not a valid signature")
        }
    }

    static func isValidErrorName(_ value: String) -> Bool {
        check(value, dbus_validate_error_name)
    }

    /// A string D-Bus accepts: valid UTF-8 (every Swift string is) with no NUL.
    static func string(_ value: String) throws(DBusError) {
        guard !value.utf8.contains(0) else { throw .invalidArgument("a string argument contains a NUL byte") }
    }

    private static func check(
        _ value: String, _ validator: (UnsafePointer<CChar>?, UnsafeMutablePointer<CDBus.DBusError>?) -> dbus_bool_t
    ) -> Bool {
        guard !value.utf8.contains(0) else { return false }
        var error = quiesce_dbus_error_make()
        defer { dbus_error_free(&error) }
        return validator(value, &error) != 0
    }
}
