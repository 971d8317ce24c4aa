/* Baseline for `make bench`: the fastest plain use of sqlite3 for the same work as
 * Store.enqueue — the same table, the same INSERT, the same pragmas (WAL, synchronous=FULL),
 * one prepared statement reused. Prints the elapsed seconds.
 *
 *   enqueue_baseline DB single N   N jobs, each its own durable transaction
 *   enqueue_baseline DB batch N    N jobs in one transaction
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s DB single|batch N\n", argv[0]);
        return 2;
    }
    int batch = strcmp(argv[2], "batch") == 0;
    int count = atoi(argv[3]);
    sqlite3 *db;
    check(sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL), db, "open");
    check(sqlite3_exec(db, "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", NULL, NULL, NULL), db, "pragmas");
    sqlite3_stmt *insert, *begin, *commit;
    check(sqlite3_prepare_v2(db, "INSERT INTO jobs (source, destination, next_attempt_at, enqueued_at, updated_at) VALUES (?, ?, 0, ?, ?)", -1, &insert, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL), db, "prepare");
    char source[256];
    double start = now();
    for (int i = 0; i < count; i++) {
        if (!batch || i == 0) { check(sqlite3_step(begin), db, "begin"); sqlite3_reset(begin); }
        snprintf(source, sizeof source, "/home/user/data/file-%08d.bin", i);
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        sqlite3_int64 ms = (sqlite3_int64)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
        sqlite3_bind_text(insert, 1, source, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 2, "backup", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(insert, 3, ms);
        sqlite3_bind_int64(insert, 4, ms);
        check(sqlite3_step(insert), db, "insert");
        sqlite3_reset(insert);
        if (!batch || i == count - 1) { check(sqlite3_step(commit), db, "commit"); sqlite3_reset(commit); }
    }
    printf("%.6f\n", now() - start);
    sqlite3_finalize(insert);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    return 0;
}
