/* The baseline for the D-Bus round trip: the least a libdbus client can do. It connects to the
 * bus at argv[1], then calls org.freedesktop.DBus.GetId on the bus itself argv[2] times, one
 * after another, blocking for each reply, and prints each call's time in nanoseconds, one a line.
 * quiesce-bench makes the same calls through QuiesceDBus on the same bus in the same run. */
#include <dbus/dbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDRESS CALLS\n", argv[0]);
        return 2;
    }
    DBusError error;
    dbus_error_init(&error);
    DBusConnection *connection = dbus_connection_open_private(argv[1], &error);
    if (!connection || !dbus_bus_register(connection, &error)) {
        fprintf(stderr, "%s: %s\n", error.name, error.message);
        return 1;
    }
    int calls = atoi(argv[2]);
    for (int i = 0; i < calls; i++) {
        long long start = now_ns();
        DBusMessage *call = dbus_message_new_method_call(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId");
        DBusMessage *reply = dbus_connection_send_with_reply_and_block(connection, call, 5000, &error);
        const char *id = NULL;
        if (!reply || !dbus_message_get_args(reply, &error, DBUS_TYPE_STRING, &id, DBUS_TYPE_INVALID)) {
            fprintf(stderr, "%s: %s\n", error.name, error.message);
            return 1;
        }
        dbus_message_unref(reply);
        dbus_message_unref(call);
        printf("%lld\n", now_ns() - start);
    }
    dbus_connection_close(connection);
    dbus_connection_unref(connection);
    return 0;
}
