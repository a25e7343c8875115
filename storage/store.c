/*
** storage/store.c -- opening a run-history file: checks, schema, settings.
**
** store_open() reads before it writes. It first asks the file its
** user_version and whether it has any tables; only a file that is empty
** (zero bytes, or SQLite with no tables and version 0) gets the schema, in
** one BEGIN IMMEDIATE transaction that looks again under the lock (two
** coordinators may race to create it). Any other file must already be a
** heapsim database of this version -- every table and column of the
** embedded schema.sql, compared against an in-memory copy -- before the
** first write to it (switching it to WAL). So a foreign file, a newer
** schema or a file that is not SQLite at all is refused untouched.
*/
#include "storage/store_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* How long a statement waits for another connection's lock. A reader in
** WAL mode never waits for the writer; this covers two writers, and the
** brief exclusive lock of a checkpoint or of switching to WAL. */
#define STORE_BUSY_TIMEOUT_MS 5000

const char *store_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case STORE_EDB: return "database error";
    case STORE_ENOTFOUND: return "no such run";
    case STORE_ESCHEMA: return "not a heapsim database, or a newer schema";
    case STORE_EUSAGE: return "bad query text or arguments";
    default: return "unknown storage error";
    }
}

const char *store_path(const store_t *st)
{
    return st->path;
}

int store_set_busy_handler(store_t *st, int (*fn)(void *arg, int count), void *arg)
{
    if (!st || !fn)
        return STORE_EUSAGE;
    sqlite3_busy_handler(st->db, fn, arg);
    return 0;
}

const char *store_errmsg(store_t *st)
{
    if (!st)
        return "no store";
    return st->errmsg[0] ? st->errmsg : "no error";
}

int store__fail(store_t *st, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

int store__db_fail(store_t *st, const char *what)
{
    int code = sqlite3_errcode(st->db) & 0xff;
    int rc = code == SQLITE_CONSTRAINT ? STORE_EUSAGE : STORE_EDB;

    return store__fail(st, rc, "%s: %s", what, sqlite3_errmsg(st->db));
}

/* ---- reading the file's state ---------------------------------------- */

/* Record why the file could not be read: STORE_ESCHEMA when SQLite says it
** is not a database, STORE_EDB (with SQLite's words) otherwise. */
static int read_fail(store_t *st, sqlite3 *db)
{
    int code = sqlite3_errcode(db) & 0xff;

    if (code == SQLITE_NOTADB)
        return store__fail(st, STORE_ESCHEMA,
                           "%s: not a heapsim database: file is not a database",
                           st->path);
    return store__fail(st, STORE_EDB, "%s: %s", st->path, sqlite3_errmsg(db));
}

/* The schema version of the file and how many tables, views, indexes or
** triggers it has, read in one snapshot (another process may be creating
** the schema meanwhile). Fails when it is not an SQLite file. */
static int read_state(store_t *st, int64_t *version, int64_t *nobjects)
{
    static const char sql[] =
        "SELECT (SELECT user_version FROM pragma_user_version),"
        " (SELECT count(*) FROM sqlite_master)";
    sqlite3_stmt *stmt;
    int rc;

    if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return read_fail(st, st->db);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        rc = read_fail(st, st->db);
        goto out_finalize;
    }
    *version = sqlite3_column_int64(stmt, 0);
    *nobjects = sqlite3_column_int64(stmt, 1);
    rc = 0;
out_finalize:
    sqlite3_finalize(stmt);
    return rc;
}

/* Whether the query sql, with ?1 and ?2 bound to arg1 and arg2, returns a
** row, into *found. */
static int query_exists(store_t *st, sqlite3 *db, const char *sql,
                        const char *arg1, const char *arg2, bool *found)
{
    sqlite3_stmt *stmt;
    int rc;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return read_fail(st, db);
    sqlite3_bind_text(stmt, 1, arg1, -1, SQLITE_TRANSIENT);
    if (arg2)
        sqlite3_bind_text(stmt, 2, arg2, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = read_fail(st, db);
        goto out_finalize;
    }
    *found = rc == SQLITE_ROW;
    rc = 0;
out_finalize:
    sqlite3_finalize(stmt);
    return rc;
}

/* The tables schema.sql gained after version 1, with the version that
** added them: a file of an earlier version is checked without them. */
static const struct {
    const char *table;
    int since;
} tables_added[] = {
    {"params", 2},
    {"events", 2},
    {"heap_profiles", 3},
    {"retention", 4},
    {"retention_sites", 4},
    {"goroutine_leaks", 4},
};

/* Columns added to a table of an earlier version, and the version. */
static const struct {
    const char *table, *column;
    int since;
} columns_added[] = {
    {"gc_cycles", "sweep_term_ns", 5},
    {"gc_cycles", "mark_term_ns", 5},
    {"gc_cycles", "mark_assist_cpu_ns", 5},
    {"gc_cycles", "mark_bg_cpu_ns", 5},
    {"gc_cycles", "mark_idle_cpu_ns", 5},
    {"gc_cycles", "heap_trigger_bytes", 5},
    {"gc_cycles", "heap_live_start_bytes", 5},
    {"gc_cycles", "heap_live_end_bytes", 5},
    {"gc_cycles", "concurrent", 5},
    {"runs", "owner_host", 6},
    {"runs", "owner_boot", 6},
    {"runs", "owner_pid", 6},
    {"runs", "owner_started", 6},
    {"runs", "heartbeat_unix_ns", 6},
    {"gc_cycles", "max_stack_bytes", 7},
};

static bool column_newer_than(const char *table, const char *column, int64_t version)
{
    for (size_t i = 0; i < sizeof columns_added / sizeof columns_added[0]; i++)
        if (strcmp(columns_added[i].table, table) == 0 &&
            strcmp(columns_added[i].column, column) == 0)
            return columns_added[i].since > version;
    return false;
}

static bool table_newer_than(const char *table, int64_t version)
{
    for (size_t i = 0; i < sizeof tables_added / sizeof tables_added[0]; i++)
        if (strcmp(tables_added[i].table, table) == 0)
            return tables_added[i].since > version;
    return false;
}

/* Check that the file has every table of schema.sql with every column, as
** a file of `version` would (tables added later are not looked for).
** Extra tables or columns are allowed. Reads only. */
static int verify_tables(store_t *st, int64_t version)
{
    static const char tables_sql[] =
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
    static const char columns_sql[] =
        "SELECT name FROM pragma_table_info(?1) ORDER BY cid";
    static const char has_table_sql[] =
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1";
    static const char has_column_sql[] =
        "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2";
    sqlite3 *ref;
    sqlite3_stmt *tables = NULL, *columns = NULL;
    int rc;

    /* The reference: the embedded schema in a private in-memory database. */
    if (sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        rc = store__fail(st, STORE_EDB, "%s: cannot open a memory database",
                         st->path);
        goto out_close_ref;
    }
    if (sqlite3_exec(ref, store__schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
        rc = store__fail(st, STORE_EDB, "embedded schema: %s", sqlite3_errmsg(ref));
        goto out_close_ref;
    }
    if (sqlite3_prepare_v2(ref, tables_sql, -1, &tables, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ref, columns_sql, -1, &columns, NULL) != SQLITE_OK) {
        rc = store__fail(st, STORE_EDB, "embedded schema: %s", sqlite3_errmsg(ref));
        goto out_finalize;
    }
    while ((rc = sqlite3_step(tables)) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(tables, 0);
        bool found;

        if (table_newer_than(table, version))
            continue;
        rc = query_exists(st, st->db, has_table_sql, table, NULL, &found);
        if (rc)
            goto out_finalize;
        if (!found) {
            rc = store__fail(st, STORE_ESCHEMA,
                             "%s: not a heapsim database (no table %s)",
                             st->path, table);
            goto out_finalize;
        }
        sqlite3_bind_text(columns, 1, table, -1, SQLITE_TRANSIENT);
        while ((rc = sqlite3_step(columns)) == SQLITE_ROW) {
            const char *column = (const char *)sqlite3_column_text(columns, 0);

            if (column_newer_than(table, column, version))
                continue;
            rc = query_exists(st, st->db, has_column_sql, table, column, &found);
            if (rc)
                goto out_finalize;
            if (!found) {
                rc = store__fail(st, STORE_ESCHEMA,
                                 "%s: not a heapsim database of version %lld "
                                 "(table %s has no column %s)",
                                 st->path, (long long)version, table, column);
                goto out_finalize;
            }
        }
        sqlite3_reset(columns);
        if (rc != SQLITE_DONE) {
            rc = store__fail(st, STORE_EDB, "embedded schema: %s", sqlite3_errmsg(ref));
            goto out_finalize;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = store__fail(st, STORE_EDB, "embedded schema: %s", sqlite3_errmsg(ref));
        goto out_finalize;
    }
    rc = 0;
out_finalize:
    sqlite3_finalize(columns);
    sqlite3_finalize(tables);
out_close_ref:
    sqlite3_close(ref);
    return rc;
}

/* Give an empty file the schema, unless another process did so first.
** On return *version and *nobjects describe the file as it now is. */
static int create_schema(store_t *st, int64_t *version, int64_t *nobjects)
{
    char set_version[64];
    int rc;

    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return store__fail(st, STORE_EDB, "%s: %s", st->path, sqlite3_errmsg(st->db));
    rc = read_state(st, version, nobjects);
    if (rc)
        goto out_rollback;
    if (*version != 0 || *nobjects != 0)
        goto out_rollback;                    /* someone else created it: check it */
    snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d",
             STORE_SCHEMA_VERSION);
    if (sqlite3_exec(st->db, store__schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(st->db, set_version, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = store__fail(st, STORE_EDB, "%s: creating the schema: %s", st->path,
                         sqlite3_errmsg(st->db));
        goto out_rollback;
    }
    return read_state(st, version, nobjects);
out_rollback:
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Decide whether the file is ours, creating the schema in an empty file
** when the store may write. Writes nothing to a file it refuses. */
static int check_schema(store_t *st)
{
    int64_t version, nobjects;
    int rc = read_state(st, &version, &nobjects);

    if (rc)
        return rc;
    if (version == 0 && nobjects == 0) {
        if (st->readonly)
            return store__fail(st, STORE_ESCHEMA,
                               "%s: not a heapsim database (it is empty)", st->path);
        rc = create_schema(st, &version, &nobjects);
        if (rc)
            return rc;
    }
    if (version > STORE_SCHEMA_VERSION)
        return store__fail(st, STORE_ESCHEMA,
                           "%s: schema version %lld is newer than this heapsim's "
                           "(%d); use a newer heapsim", st->path,
                           (long long)version, STORE_SCHEMA_VERSION);
    if (version <= 0)
        return store__fail(st, STORE_ESCHEMA,
                           "%s: not a heapsim database (an SQLite file with "
                           "other tables)", st->path);
    if (version < STORE_SCHEMA_VERSION) {
        /* Checked first as the version it says it is, then migrated. */
        if ((rc = verify_tables(st, version)))
            return rc;
        if (st->readonly)
            return store__fail(st, STORE__EOLDER, "%s: schema version %lld needs "
                               "upgrading to %d", st->path, (long long)version,
                               STORE_SCHEMA_VERSION);
        if ((rc = store__migrate(st, version)))
            return rc;
    }
    return verify_tables(st, STORE_SCHEMA_VERSION);
}

/* The journal mode after running sql (a journal_mode PRAGMA) into mode. */
static int journal_mode(store_t *st, const char *sql, char *mode, size_t size)
{
    sqlite3_stmt *stmt;
    const char *text;
    int rc;

    if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return sqlite3_errcode(st->db);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        text = (const char *)sqlite3_column_text(stmt, 0);
        snprintf(mode, size, "%s", text ? text : "unknown");
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* Switch the file to WAL. Leaving rollback mode needs an exclusive lock,
** for which SQLite does not call the busy handler, so wait here: another
** process may be reading the new file to decide it is ours. */
static int switch_to_wal(store_t *st)
{
    char mode[32];
    int rc = journal_mode(st, "PRAGMA journal_mode", mode, sizeof mode);

    if (rc == SQLITE_OK && (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0))
        return 0;
    for (int waited_ms = 0; ; waited_ms += 10) {
        rc = journal_mode(st, "PRAGMA journal_mode = WAL", mode, sizeof mode);
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= STORE_BUSY_TIMEOUT_MS)
            break;
        sqlite3_sleep(10);
    }
    if (rc != SQLITE_OK)
        return store__fail(st, STORE_EDB, "%s: switching to WAL: %s", st->path,
                           sqlite3_errstr(rc));
    if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
        return store__fail(st, STORE_EDB, "%s: cannot switch to WAL (journal mode "
                           "stays %s)", st->path, mode);
    return 0;
}

/* Connection settings, after the file is known to be ours. */
static int configure(store_t *st)
{
    int rc;

    if (st->readonly) {
        if (sqlite3_exec(st->db, "PRAGMA query_only = ON", NULL, NULL, NULL) != SQLITE_OK)
            return store__fail(st, STORE_EDB, "%s: %s", st->path, sqlite3_errmsg(st->db));
        return 0;
    }
    if ((rc = switch_to_wal(st)))
        return rc;
    /* NORMAL is durable in WAL mode except on power loss, and makes a
    ** commit cost no fsync. */
    if (sqlite3_exec(st->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(st->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
        return store__fail(st, STORE_EDB, "%s: %s", st->path, sqlite3_errmsg(st->db));
    return 0;
}

/* ---- open and close -------------------------------------------------- */

static void copy_err(char *err, size_t errsize, const char *msg)
{
    if (err && errsize > 0)
        snprintf(err, errsize, "%s", msg);
}

static int open_once(const char *path, int flags, store_t **store_p,
                     char *err, size_t errsize);

/* A read-only open of a file of an earlier version migrates it first: a
** read-write open (which migrates), closed, then the read-only one again.
** When the file cannot be written, the error says it needs upgrading. */
int store_open(const char *path, int flags, store_t **store_p,
               char *err, size_t errsize)
{
    char why[STORE__ERRMSG_MAX], rw_err[STORE__ERRMSG_MAX];
    store_t *rw;
    int rc = open_once(path, flags, store_p, why, sizeof why);

    if (rc != STORE__EOLDER) {
        copy_err(err, errsize, why);
        return rc;
    }
    rc = open_once(path, 0, &rw, rw_err, sizeof rw_err);
    if (rc) {
        if (err && errsize > 0)
            snprintf(err, errsize, "%s, and upgrading it failed: %s", why, rw_err);
        return rc == STORE__EOLDER ? STORE_ESCHEMA : rc;
    }
    store_close(&rw);
    rc = open_once(path, flags, store_p, err, errsize);
    return rc == STORE__EOLDER ? STORE_ESCHEMA : rc;
}

static int open_once(const char *path, int flags, store_t **store_p,
                     char *err, size_t errsize)
{
    bool readonly = (flags & STORE_READONLY) != 0;
    bool memory;
    struct stat sb;
    store_t *st;
    int rc;

    copy_err(err, errsize, "");
    if (store_p)
        *store_p = NULL;
    if (!path || !*path || !store_p || (flags & ~STORE_READONLY)) {
        copy_err(err, errsize, "store_open: no path, no result pointer or unknown flags");
        return STORE_EUSAGE;
    }
    memory = strcmp(path, ":memory:") == 0;
    if (!memory && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (err && errsize > 0)
            snprintf(err, errsize, "%s: is a directory, not a database", path);
        return STORE_EUSAGE;
    }
    if (!memory && readonly && stat(path, &sb) != 0) {
        if (err && errsize > 0) {
            if (errno == ENOENT)
                snprintf(err, errsize, "no database at %s", path);
            else
                snprintf(err, errsize, "%s: %s", path, strerror(errno));
        }
        return STORE_EDB;
    }

    st = calloc(1, sizeof *st);
    if (!st) {
        copy_err(err, errsize, "out of memory");
        return STORE_EDB;
    }
    st->readonly = readonly;
    st->path = strdup(path);
    if (!st->path) {
        copy_err(err, errsize, "out of memory");
        rc = STORE_EDB;
        goto out_free_store;
    }

    rc = sqlite3_open_v2(path, &st->db,
                         readonly ? SQLITE_OPEN_READONLY
                                  : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                         NULL);
    if (rc != SQLITE_OK) {
        rc = store__fail(st, STORE_EDB, "%s: cannot open: %s", path,
                         st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto out_close_db;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    if (!readonly && sqlite3_db_readonly(st->db, "main") == 1) {
        rc = store__fail(st, STORE_EDB, "%s: the file is read-only (query it "
                         "read-only instead)", path);
        goto out_close_db;
    }
    rc = check_schema(st);
    if (rc)
        goto out_close_db;
    rc = configure(st);
    if (rc)
        goto out_close_db;
    st->errmsg[0] = '\0';
    *store_p = st;
    return 0;

out_close_db:
    copy_err(err, errsize, st->errmsg);
    sqlite3_close_v2(st->db);               /* accepts NULL */
out_free_store:
    free(st->path);
    free(st);
    return rc;
}

void store_close(store_t **store_p)
{
    store_t *st;

    if (!store_p || !*store_p)
        return;
    st = *store_p;
    store__stmts_finalize(st);
    /* An open transaction is rolled back by the close. */
    sqlite3_close_v2(st->db);
    free(st->path);
    free(st);
    *store_p = NULL;
}
