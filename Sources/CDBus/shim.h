// What Swift cannot import from libdbus: its type codes and flags are macros, and TRUE/FALSE are
// too. They are re-exported here as constants. The variadic calls (dbus_message_append_args and
// friends) are not wrapped: the Swift side marshals with DBusMessageIter instead.
#ifndef QUIESCE_CDBUS_SHIM_H
#define QUIESCE_CDBUS_SHIM_H

#include <dbus/dbus.h>
#include <sys/eventfd.h>

static const int QDBUS_TYPE_INVALID = DBUS_TYPE_INVALID;
static const int QDBUS_TYPE_BYTE = DBUS_TYPE_BYTE;
static const int QDBUS_TYPE_BOOLEAN = DBUS_TYPE_BOOLEAN;
static const int QDBUS_TYPE_INT16 = DBUS_TYPE_INT16;
static const int QDBUS_TYPE_UINT16 = DBUS_TYPE_UINT16;
static const int QDBUS_TYPE_INT32 = DBUS_TYPE_INT32;
static const int QDBUS_TYPE_UINT32 = DBUS_TYPE_UINT32;
static const int QDBUS_TYPE_INT64 = DBUS_TYPE_INT64;
static const int QDBUS_TYPE_UINT64 = DBUS_TYPE_UINT64;
static const int QDBUS_TYPE_DOUBLE = DBUS_TYPE_DOUBLE;
static const int QDBUS_TYPE_STRING = DBUS_TYPE_STRING;
static const int QDBUS_TYPE_OBJECT_PATH = DBUS_TYPE_OBJECT_PATH;
static const int QDBUS_TYPE_SIGNATURE = DBUS_TYPE_SIGNATURE;
static const int QDBUS_TYPE_UNIX_FD = DBUS_TYPE_UNIX_FD;
static const int QDBUS_TYPE_ARRAY = DBUS_TYPE_ARRAY;
static const int QDBUS_TYPE_VARIANT = DBUS_TYPE_VARIANT;
static const int QDBUS_TYPE_STRUCT = DBUS_TYPE_STRUCT;
static const int QDBUS_TYPE_DICT_ENTRY = DBUS_TYPE_DICT_ENTRY;

static const int QDBUS_MESSAGE_TYPE_METHOD_CALL = DBUS_MESSAGE_TYPE_METHOD_CALL;
static const int QDBUS_MESSAGE_TYPE_METHOD_RETURN = DBUS_MESSAGE_TYPE_METHOD_RETURN;
static const int QDBUS_MESSAGE_TYPE_ERROR = DBUS_MESSAGE_TYPE_ERROR;
static const int QDBUS_MESSAGE_TYPE_SIGNAL = DBUS_MESSAGE_TYPE_SIGNAL;

static const unsigned int QDBUS_NAME_FLAG_DO_NOT_QUEUE = DBUS_NAME_FLAG_DO_NOT_QUEUE;
static const int QDBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER = DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER;
static const int QDBUS_REQUEST_NAME_REPLY_IN_QUEUE = DBUS_REQUEST_NAME_REPLY_IN_QUEUE;
static const int QDBUS_REQUEST_NAME_REPLY_EXISTS = DBUS_REQUEST_NAME_REPLY_EXISTS;
static const int QDBUS_REQUEST_NAME_REPLY_ALREADY_OWNER = DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER;

static const unsigned int QDBUS_WATCH_READABLE = DBUS_WATCH_READABLE;
static const unsigned int QDBUS_WATCH_WRITABLE = DBUS_WATCH_WRITABLE;
static const unsigned int QDBUS_WATCH_ERROR = DBUS_WATCH_ERROR;
static const unsigned int QDBUS_WATCH_HANGUP = DBUS_WATCH_HANGUP;

static const dbus_bool_t QDBUS_TRUE = TRUE;
static const dbus_bool_t QDBUS_FALSE = FALSE;

/// An eventfd for waking the connection's poller thread (sys/eventfd.h does not import into
/// Swift's Glibc module). Close-on-exec, so no child inherits it.
static inline int quiesce_wake_descriptor(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/// A zeroed DBusError, ready for dbus_error_init's callers.
static inline DBusError quiesce_dbus_error_make(void) {
    DBusError error;
    dbus_error_init(&error);
    return error;
}

#endif
