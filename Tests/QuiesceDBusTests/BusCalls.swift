import QuiesceDBus

/// Calls to the bus daemon the tests make to have something answered.
enum BusCalls {
    /// `GetId`: the cheapest call the bus answers itself (a 32-character id).
    static func getID() throws(DBusError) -> DBusMessage {
        try DBusMessage.methodCall(
            destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "GetId")
    }
}
