// What Swift cannot call in sqlite3 directly: the SQLITE_TRANSIENT destructor (a cast of -1 to a
// function pointer, which does not import) and the variadic configuration calls. Nothing more:
// everything else is called as sqlite3 declares it.
#ifndef QUIESCE_CSQLITE_SHIM_H
#define QUIESCE_CSQLITE_SHIM_H

#include <sqlite3.h>

/// Binds text that SQLite copies before the call returns, so Swift's buffer may go away.
static inline int quiesce_sqlite3_bind_text_transient(sqlite3_stmt *stmt, int index, const char *text, int bytes) {
    return sqlite3_bind_text(stmt, index, text, bytes, SQLITE_TRANSIENT);
}

/// Binds a blob that SQLite copies before the call returns.
static inline int quiesce_sqlite3_bind_blob_transient(sqlite3_stmt *stmt, int index, const void *data, int bytes) {
    return sqlite3_bind_blob(stmt, index, data, bytes, SQLITE_TRANSIENT);
}

/// sqlite3_db_config for the options that take one int and report the new value.
static inline int quiesce_sqlite3_db_config_int(sqlite3 *db, int option, int value, int *result) {
    return sqlite3_db_config(db, option, value, result);
}

static const int QUIESCE_SQLITE_DBCONFIG_DEFENSIVE = SQLITE_DBCONFIG_DEFENSIVE;
static const int QUIESCE_SQLITE_DBCONFIG_ENABLE_TRIGGER = SQLITE_DBCONFIG_ENABLE_TRIGGER;

#endif
