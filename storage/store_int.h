/*
** storage/store_int.h -- what the files of the storage module share.
**
** The picture:
**
**   store_t --- db ------------- one SQLite connection to one file
**           |-- stmts[STMT_*] -- prepared once, on first use, kept until close;
**           |                    the insert hot paths (samples, gc cycles)
**           |                    only bind, step and reset
**           |-- readonly ------- opened with STORE_READONLY: every write
**           |                    function answers STORE_EUSAGE
**           `-- errmsg --------- the message of the last failure
**
** Files: store.c opens and checks the file (schema, version) and owns the
** error helpers; store_write.c the statement cache, transactions, inserts
** and updates; store_migrate.c the upgrade of older files; store_read.c
** the read model (store_model.h, whose structs and destructors are
** store_model.c, a library of its own); store_gonames.c a task's figures
** under Go's names; store_sql.c the ad-hoc query, row by row. Nothing here
** prints: render/ turns the model and the rows into text, CSV and JSON.
** schema.c is generated from schema.sql.
**
** Invariants:
**   - After store_open succeeds the file has user_version ==
**     STORE_SCHEMA_VERSION and every table and column of schema.sql;
**     a read-write handle has journal_mode WAL and foreign keys on.
**   - A cached statement is reset (and its bindings cleared) before the
**     function that stepped it returns, on every path, so no statement
**     holds a read transaction open between calls.
**   - Nothing read from the file is trusted: a NULL where the schema does
**     not allow one, a wrong type, JSON that does not parse -- each is
**     read as what it is (NULL, the raw text), never asserted on.
*/
#ifndef HEAPSIM_STORAGE_STORE_INT_H
#define HEAPSIM_STORAGE_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "storage/store.h"

/* The cached statements, one per write path. */
typedef enum store__stmt_id {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_RUN_INSERT,
    STMT_RUN_FINISH,
    STMT_RUN_CLAIM,
    STMT_RUN_BEAT,
    STMT_WORKER_INSERT,
    STMT_TASK_INSERT,
    STMT_TASK_START,
    STMT_TASK_FINISH,
    STMT_METRIC_INSERT,
    STMT_SAMPLE_INSERT,
    STMT_GC_INSERT,
    STMT__COUNT
} store__stmt_id_t;

#define STORE__ERRMSG_MAX 512

/* check_schema on a read-only store: the file is of an earlier version and
** must be migrated first (store_open does so, read-write, then reopens). */
#define STORE__EOLDER (-4099)

struct store {
    sqlite3 *db;
    char *path;                           /* as given to store_open */
    bool readonly;
    sqlite3_stmt *stmts[STMT__COUNT];     /* NULL until first use */
    char errmsg[STORE__ERRMSG_MAX];
    /* The bounds of the open store_query_t (0: none). */
    int64_t query_timeout_ms, query_max_value;
    struct timespec query_deadline;       /* CLOCK_MONOTONIC */
    bool query_expired;                   /* the progress handler stopped it */
};

/* schema.sql, generated into schema.c by the build. */
extern const char store__schema_sql[];

/* ---- errors (store.c) ---------------------------------------------- */

/* Record a message for store_errmsg() and return rc. */
int store__fail(store_t *st, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record "what: <SQLite's message>" and return the store code for SQLite's
** last error on st->db: STORE_EUSAGE for a constraint (a duplicate name, a
** run or task that does not exist), STORE_EDB for everything else. Call it
** before resetting the statement that failed. */
int store__db_fail(store_t *st, const char *what);

/* ---- migrations (store_migrate.c) -------------------------------- */

/* Bring the file from schema version `from` (1 <= from <
** STORE_SCHEMA_VERSION) to STORE_SCHEMA_VERSION in one transaction; on
** failure the file is unchanged. The store must be read-write. */
int store__migrate(store_t *st, int64_t from);

/* ---- liveness (store_read.c) ---------------------------------------- */

/* A run's row as stored: its status and liveness mark (NULL/STORE_NONE
** where the file has NULL). */
typedef struct store__mark {
    const char *status, *owner_host, *owner_boot;
    int64_t owner_pid, owner_started, heartbeat_unix_ns;
} store__mark_t;

/* Whether a run with this mark is 'running' with its owner gone (store.h
** says how that is judged, at now_unix_ns); if so, why, in words, into
** why. Reads /proc, writes nothing. */
bool store__owner_gone(const store__mark_t *m, int64_t now_unix_ns, char *why,
                       size_t size);

/* ---- statements (store_write.c) ------------------------------------ */

/* The cached statement id, preparing it on first use. NULL on failure, with
** the error recorded (store__db_fail). The caller resets it after use. */
sqlite3_stmt *store__stmt(store_t *st, store__stmt_id_t id);
/* Finalize every cached statement (store_close). */
void store__stmts_finalize(store_t *st);

/* Task task_id's figures under Go's runtime/metrics names (store_gonames.c)
** into *out. 0, or a STORE_E* code (the error recorded). */
int store__task_go_read(store_t *st, int64_t task_id, store_task_go_t *out);

#endif
