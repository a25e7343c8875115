/*
** storage/store_event.c -- store_event_insert (store.h): one row of the
** `events` table (worker lost, task re-queued, telemetry dropped, ...).
** The table itself comes with schema version 2; on a database without it
** the call fails with STORE_ENOTABLE and changes nothing, so a caller can
** go on without its events.
*/
#include <string.h>

#include "storage/store_int.h"

int store_event_insert(store_t *st, const store_event_t *e)
{
    static const char sql[] =
        "INSERT INTO events (run_id, task_id, unix_ns, kind, worker, count, detail)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    sqlite3_stmt *s = NULL;
    int rc;

    if (!st || !e || !e->kind || !*e->kind)
        return st ? store__fail(st, STORE_EUSAGE, "inserting an event: no kind") : STORE_EUSAGE;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        const char *msg = sqlite3_errmsg(st->db);
        return store__fail(st, strstr(msg, "no such table") ? STORE_ENOTABLE : STORE_EDB,
                           "inserting an event: %s", msg);
    }
    sqlite3_bind_int64(s, 1, e->run_id);
    if (e->task_id > 0)
        sqlite3_bind_int64(s, 2, e->task_id);
    sqlite3_bind_int64(s, 3, e->unix_ns);
    sqlite3_bind_text(s, 4, e->kind, -1, SQLITE_TRANSIENT);
    if (e->worker)
        sqlite3_bind_text(s, 5, e->worker, -1, SQLITE_TRANSIENT);
    if (e->count > 0)
        sqlite3_bind_int64(s, 6, e->count);
    if (e->detail)
        sqlite3_bind_text(s, 7, e->detail, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store__fail(st, rc == SQLITE_CONSTRAINT ? STORE_EUSAGE : STORE_EDB,
                           "inserting an event: %s", sqlite3_errmsg(st->db));
    return 0;
}
