/*
** storage/store_test.c -- the store against real SQLite files.
**
** Each case works on its own files in $TEST_TMPDIR and checks what the
** contract in store.h promises: the schema on a fresh file, refusals that
** leave a foreign file byte-for-byte unchanged, the read model (what
** render/ prints), the read-only query gate and its rows, and a reader
** beside a writer's open transaction. Each case runs in a process of its
** own (base/testrun.h); a failed REQUIRE ends the case, as the checks here
** always did.
*/
#include "storage/store.h"
#include "base/testrun.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/gc_fields.h"
#include "base/proc.h"

/* The embedded schema (store_int.h; not a public symbol). */
extern const char store__schema_sql[];

/* ---- helpers -------------------------------------------------------- */

static char *tmp_path(const char *name)
{
    static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
    const char *dir = getenv("TEST_TMPDIR");
    char *path;

    if (asprintf(&path, "%s/%s", dir ? dir : "/tmp", name) < 0)
        abort();
    /* Start clean: a rerun must not see the last run's files. */
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char *p;

        if (asprintf(&p, "%s%s", path, suffixes[i]) < 0)
            abort();
        unlink(p);
        free(p);
    }
    return path;
}

static bool file_exists(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0;
}

/* The whole file; *size its length. NULL if it cannot be read. */
static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1))) {
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        } else {
            buf[len] = '\0';
            *size = (size_t)len;
        }
    }
    fclose(f);
    return buf;
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");

    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
}

/* Run sql on a raw connection to path (for setting up and inspecting
** files behind the store's back). Returns SQLite's code. */
static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    int rc = sqlite3_open(path, &db);

    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* The integer the query returns on a raw connection, -1 on failure. */
static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    int64_t value = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
        if (sqlite3_step(stmt) == SQLITE_ROW)
            value = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return value;
}


/* The column names and rows of a query as the test reads them: a line of
** names, then a line per row, values split by '|' (NULL, integers, reals
** as %.17g, text as is, blobs as x'hex'). *text_p (caller frees) holds
** what was read, also when a step fails. Returns store_query_open's
** code, else 0 after the last row or the failing step's code. */
static int query_dump(store_t *st, const char *sql, const store_query_opts_t *opts,
                      char **text_p)
{
    store_query_t *q;
    const store_value_t *v;
    size_t size;
    FILE *out = open_memstream(text_p, &size);
    int rc;

    if (!out)
        abort();
    rc = store_query_open(st, sql, opts, &q);
    if (rc == 0) {
        for (size_t col = 0; col < store_query_columns(q); col++)
            fprintf(out, "%s%s", col ? "|" : "", store_query_column_name(q, col));
        fputc('\n', out);
        while ((rc = store_query_step(q, &v)) == 1) {
            for (size_t col = 0; col < store_query_columns(q); col++) {
                if (col)
                    fputc('|', out);
                switch (v[col].type) {
                case STORE_VALUE_NULL: fputs("NULL", out); break;
                case STORE_VALUE_INT: fprintf(out, "%lld", (long long)v[col].i); break;
                case STORE_VALUE_REAL: fprintf(out, "%.17g", v[col].r); break;
                case STORE_VALUE_TEXT: fwrite(v[col].bytes, 1, v[col].len, out); break;
                case STORE_VALUE_BLOB:
                    fputs("x'", out);
                    for (size_t i = 0; i < v[col].len; i++)
                        fprintf(out, "%02x", v[col].bytes[i]);
                    fputc('\'', out);
                    break;
                }
            }
            fputc('\n', out);
        }
        store_query_close(&q);
        CHECK(q == NULL);
    }
    fclose(out);
    return rc;
}

/* ---- the embedded schema is schema.sql ------------------------------- */

static void test_schema_embedded(void)
{
    size_t size;
    char *text = read_file("storage/schema.sql", &size);
    bool in_table = false;
    char *line, *save;

    REQUIRE(text != NULL);
    REQUIRE(strcmp(text, store__schema_sql) == 0);
    /* Documented: every table has a comment before it, every column one on
    ** its line. */
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "CREATE TABLE", 12) == 0) {
            in_table = true;
            continue;
        }
        if (strncmp(line, ");", 2) == 0) {
            in_table = false;
            continue;
        }
        if (in_table && strstr(line, "UNIQUE (") != line + 4 && !strstr(line, "--")) {
            fprintf(stderr, "schema.sql: column without a comment: %s\n", line);
            free(text);
            REQUIRE(false);
        }
    }
    free(text);
}

/* ---- gc_cycles and base/gc_fields.h ---------------------------------- */

/* The columns of gc_cycles that say where a cycle ran; every other column
** is a field of base/gc_fields.h. */
static const char *const gc_context_columns[] = {
    "id", "run_id", "task_id", "host", "heap", "worker",
};

static bool is_gc_context_column(const char *name)
{
    for (size_t i = 0; i < sizeof gc_context_columns / sizeof gc_context_columns[0]; i++)
        if (strcmp(name, gc_context_columns[i]) == 0)
            return true;
    return false;
}

/* The comment of `column` in the CREATE TABLE gc_cycles of schema.sql,
** into out; false when the column has no line there. */
static bool schema_gc_comment(const char *schema, const char *column, char *out, size_t size)
{
    const char *p = strstr(schema, "CREATE TABLE gc_cycles (\n");
    const char *end = p ? strstr(p, "\n);") : NULL;
    size_t n = strlen(column);

    for (p = p ? strchr(p, '\n') : NULL; p && p < end; p = strchr(p + 1, '\n')) {
        const char *line = p + 1;
        const char *eol = strchr(line, '\n');
        while (*line == ' ')
            line++;
        if (strncmp(line, column, n) != 0 || line[n] != ' ')
            continue;
        const char *c = strstr(line, "-- ");
        if (!c || c > eol)
            return false;
        c += 3;
        snprintf(out, size, "%.*s", (int)(eol - c), c);
        return true;
    }
    return false;
}

/* schema.sql and the field list agree: each field is a column of its name,
** of its type (INT: INTEGER, REAL: REAL), documented with its doc string;
** gc_cycles has no other column but the context ones. */
static void test_gc_fields_schema(void)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    bool seen[GC_FIELDS_COUNT] = { false };
    int ncolumns = 0, bad = 0;
    size_t size;
    char *schema = read_file("storage/schema.sql", &size);

    REQUIRE(schema != NULL);
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, store__schema_sql, NULL, NULL, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(db, "SELECT name, type FROM pragma_table_info('gc_cycles')",
                             -1, &stmt, NULL) == SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        const char *type = (const char *)sqlite3_column_text(stmt, 1);
        size_t i;

        ncolumns++;
        if (is_gc_context_column(name))
            continue;
        for (i = 0; i < GC_FIELDS_COUNT; i++)
            if (strcmp(gc_fields_desc[i].name, name) == 0)
                break;
        if (i == GC_FIELDS_COUNT) {
            fprintf(stderr, "gc_cycles.%s is not in base/gc_fields.h\n", name);
            bad++;
            continue;
        }
        seen[i] = true;
        const char *want = gc_fields_desc[i].kind == GC_FIELDS_KIND_REAL ? "REAL" : "INTEGER";
        if (strcmp(type, want) != 0) {
            fprintf(stderr, "gc_cycles.%s is %s, base/gc_fields.h says %s\n", name, type, want);
            bad++;
        }
        char doc[256];
        if (!schema_gc_comment(schema, name, doc, sizeof doc) ||
            strcmp(doc, gc_fields_desc[i].doc) != 0) {
            fprintf(stderr, "gc_cycles.%s: schema.sql says \"%s\", base/gc_fields.h \"%s\"\n",
                    name, doc, gc_fields_desc[i].doc);
            bad++;
        }
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    free(schema);
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++)
        if (!seen[i]) {
            fprintf(stderr, "base/gc_fields.h: %s has no column in gc_cycles\n",
                    gc_fields_desc[i].name);
            bad++;
        }
    REQUIRE(bad == 0);
    REQUIRE(ncolumns == (int)(sizeof gc_context_columns / sizeof gc_context_columns[0]) +
                          GC_FIELDS_COUNT);
}

/* Every field lands in its own column, read back as written; a REAL field
** that is not finite is stored as NULL. */
static void test_gc_fields_roundtrip(void)
{
    char *path = tmp_path("gcfields.db");
    char err[512], sql[256];
    store_t *st;
    int64_t run_id;
    store_run_t run = { .token = "gcfields", .name = "gcfields", .host = "h",
                        .workers = 1, .started_unix_ns = 1 };
    store_gc_t gc = { .task_id = 0, .host = "h", .heap = "/hp", .worker = "h:1" };
    int bad = 0;

    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        if (f->kind == GC_FIELDS_KIND_REAL)
            *gc_fields_real(&gc.fields, f) = 0.5 + (double)i / 1024;
        else
            *gc_fields_int(&gc.fields, f) = ((int64_t)(i + 1) << 40) + (int64_t)i;
    }
    REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(store_run_insert(st, &run, &run_id), 0, store_strerror);
    gc.run_id = run_id;
    REQUIRE_RC(store_gc_insert(st, &gc), 0, store_strerror);
    gc.fields.gc_cpu_fraction = NAN;
    REQUIRE_RC(store_gc_insert(st, &gc), 0, store_strerror);
    store_close(&st);

    sqlite3 *db;
    REQUIRE(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        sqlite3_stmt *stmt;

        snprintf(sql, sizeof sql, "SELECT %s FROM gc_cycles ORDER BY id", f->name);
        if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
            fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
            bad++;
            continue;
        }
        for (int row = 0; row < 2; row++) {
            bool ok = sqlite3_step(stmt) == SQLITE_ROW;
            if (ok && f->kind == GC_FIELDS_KIND_INT)
                ok = sqlite3_column_type(stmt, 0) == SQLITE_INTEGER &&
                     sqlite3_column_int64(stmt, 0) == gc_fields_get_int(&gc.fields, f);
            else if (ok && row == 0)
                ok = sqlite3_column_type(stmt, 0) == SQLITE_FLOAT &&
                     sqlite3_column_double(stmt, 0) == 0.5 + (double)i / 1024;
            else if (ok)
                ok = sqlite3_column_type(stmt, 0) == SQLITE_NULL;
            if (!ok) {
                fprintf(stderr, "gc_cycles.%s, row %d: not as written\n", f->name, row + 1);
                bad++;
            }
        }
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    REQUIRE(raw_int(path, "SELECT count(*) FROM gc_cycles WHERE task_id IS NULL AND host = 'h'"
                        " AND heap = '/hp' AND worker = 'h:1'") == 2);
    free(path);
    REQUIRE(bad == 0);
}

/* ---- open ------------------------------------------------------------ */

static void test_create_open_reopen(void)
{
    char *path = tmp_path("create.db");
    char *missing = tmp_path("missing.db");
    char err[512];
    store_t *st = (store_t *)1;

    REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), 0, store_strerror);
    REQUIRE(st != NULL);
    REQUIRE(err[0] == '\0');
    store_close(&st);
    REQUIRE(st == NULL);
    store_close(&st);                   /* accepts NULL */
    store_close(NULL);

    REQUIRE(raw_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
    REQUIRE(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                        "('runs','workers','tasks','samples','gc_cycles','metrics')") == 6);
    REQUIRE(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                        "('samples_by_task','gc_cycles_by_run')") == 2);
    /* journal_mode is stored in the header: 2 in bytes 18 and 19 is WAL. */
    {
        size_t size;
        char *bytes = read_file(path, &size);

        REQUIRE(bytes && size >= 100 && bytes[18] == 2 && bytes[19] == 2);
        free(bytes);
    }

    REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), 0, store_strerror);
    store_close(&st);
    REQUIRE_RC(store_open(path, STORE_READONLY, &st, err, sizeof err), 0, store_strerror);
    store_close(&st);

    /* Read-only never creates. */
    st = (store_t *)1;
    REQUIRE_RC(store_open(missing, STORE_READONLY, &st, err, sizeof err), STORE_EDB, store_strerror);
    REQUIRE(st == NULL);
    REQUIRE_CONTAINS(err, "no database at ");
    REQUIRE_CONTAINS(err, missing);
    REQUIRE(!file_exists(missing));

    REQUIRE_RC(store_open(NULL, 0, &st, err, sizeof err), STORE_EUSAGE, store_strerror);
    REQUIRE_RC(store_open(path, 0x100, &st, err, sizeof err), STORE_EUSAGE, store_strerror);
    REQUIRE_RC(store_open(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp", 0, &st,
                        err, sizeof err), STORE_EUSAGE, store_strerror);
    REQUIRE_CONTAINS(err, "is a directory");
    free(missing);
    free(path);
}

/* Several processes opening one new file at once: each gets the schema,
** made by one of them (creation looks again under the write lock). */
static void test_concurrent_create(void)
{
    enum { ROUNDS = 10, PROCS = 4 };

    for (int round = 0; round < ROUNDS; round++) {
        char name[64], *path;
        pid_t pids[PROCS];
        int bad = 0;

        snprintf(name, sizeof name, "race-%d.db", round);
        path = tmp_path(name);
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            REQUIRE(pids[i] >= 0);
            if (pids[i] == 0) {
                char err[512];
                store_t *st;
                int rc = store_open(path, 0, &st, err, sizeof err);

                if (rc)
                    fprintf(stderr, "child %d: %s\n", i, err);
                store_close(&st);
                _exit(rc ? 1 : 0);
            }
        }
        for (int i = 0; i < PROCS; i++) {
            int status;

            REQUIRE(waitpid(pids[i], &status, 0) == pids[i]);
            bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
        REQUIRE(bad == 0);
        REQUIRE(raw_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
        free(path);
    }
}

/* Open must refuse path (both ways) with STORE_ESCHEMA, an error naming
** the file that contains `why`, and leave the file as it was. */
static void expect_refused(const char *path, const char *why)
{
    size_t before_size, after_size;
    char *before = read_file(path, &before_size), *after;
    char err[512];
    store_t *st = (store_t *)1;

    REQUIRE(before != NULL);
    REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), STORE_ESCHEMA, store_strerror);
    REQUIRE(st == NULL);
    REQUIRE_CONTAINS(err, path);
    REQUIRE_CONTAINS(err, why);
    REQUIRE_RC(store_open(path, STORE_READONLY, &st, err, sizeof err), STORE_ESCHEMA, store_strerror);
    REQUIRE_CONTAINS(err, why);
    after = read_file(path, &after_size);
    REQUIRE(after != NULL);
    REQUIRE(before_size == after_size && memcmp(before, after, before_size) == 0);
    free(after);
    free(before);
}

static void test_newer_schema(void)
{
    char *path = tmp_path("newer.db");
    char err[512], sql[64];
    store_t *st;

    REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), 0, store_strerror);
    store_close(&st);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
    REQUIRE(raw_exec(path, sql) == SQLITE_OK);
    expect_refused(path, "newer");
    REQUIRE(raw_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION + 1);
    free(path);
}

static void test_not_sqlite(void)
{
    char *path = tmp_path("garbage.db");
    char garbage[4096];

    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)("not a database, just words\n"[i % 27]);
    write_file(path, garbage, sizeof garbage);
    expect_refused(path, "file is not a database");
    write_file(path, "short\n", 6);
    expect_refused(path, "file is not a database");
    free(path);
}

static void test_foreign_sqlite(void)
{
    char *path = tmp_path("foreign.db");
    char *versioned = tmp_path("foreign-v1.db");
    char *partial = tmp_path("partial.db");
    char err[512];
    store_t *st;

    REQUIRE(raw_exec(path, "CREATE TABLE accounts (id INTEGER, owner TEXT);"
                         "INSERT INTO accounts VALUES (1, 'ann');") == SQLITE_OK);
    expect_refused(path, "not a heapsim database");

    /* Claims our version but has other tables. */
    REQUIRE(raw_exec(versioned, "CREATE TABLE accounts (id INTEGER);"
                              "PRAGMA user_version = 1;") == SQLITE_OK);
    expect_refused(versioned, "no table");

    /* Our tables, one column short. */
    REQUIRE_RC(store_open(partial, 0, &st, err, sizeof err), 0, store_strerror);
    store_close(&st);
    REQUIRE(raw_exec(partial, "ALTER TABLE metrics DROP COLUMN unit") == SQLITE_OK);
    expect_refused(partial, "table metrics has no column unit");
    free(partial);
    free(versioned);
    free(path);
}


/* ---- migrations from every earlier version --------------------------- */

/* One line per table, index, view and trigger of the file, with what
** defines it (columns: name, type, NOT NULL, default, key; an index's
** columns; a view's columns), sorted: two files of the same schema give
** the same text, whatever the comments or the order they were made in. */
static char *schema_shape(const char *path)
{
    static const char sql[] =
        "SELECT group_concat(line, char(10)) FROM (SELECT line FROM ("
        " SELECT m.type || ' ' || m.name || ' on ' || m.tbl_name || ': ' ||"
        "  coalesce((SELECT group_concat(c.name || ' ' || c.type || ' ' || c.\"notnull\""
        "   || ' ' || coalesce(c.dflt_value, '-') || ' ' || c.pk, ', ')"
        "   FROM pragma_table_info(m.name) c WHERE m.type IN ('table', 'view')), '') ||"
        "  coalesce((SELECT group_concat(coalesce(x.name, '?') || ' ' || x.desc, ', ')"
        "   FROM pragma_index_xinfo(m.name) x WHERE m.type = 'index' AND x.key), '')"
        "  AS line"
        " FROM sqlite_master m WHERE m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\')"
        " ORDER BY line)";
    sqlite3 *db;
    sqlite3_stmt *stmt;
    char *shape = NULL;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
        if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0))
            shape = strdup((const char *)sqlite3_column_text(stmt, 0));
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return shape;
}

/* storage/testdata/vN.sql for every N before STORE_SCHEMA_VERSION: built
** into a file, opened read-only as `heapsim show` would (which migrates
** it), then it has the shape of a fresh file, its rows, and the new
** tables filled. */
static void test_migrate_every_version(void)
{
    char *fresh = tmp_path("migrate-fresh.db");
    char err[512];
    store_t *st;
    char *want;

    REQUIRE_RC(store_open(fresh, 0, &st, err, sizeof err), 0, store_strerror);
    store_close(&st);
    want = schema_shape(fresh);
    REQUIRE(want != NULL);
    for (int v = 1; v < STORE_SCHEMA_VERSION; v++) {
        char name[64], fixture[64];
        char *path, *text, *got;
        size_t size;
        int64_t tasks, params, samples;

        snprintf(fixture, sizeof fixture, "storage/testdata/v%d.sql", v);
        snprintf(name, sizeof name, "migrate-v%d.db", v);
        path = tmp_path(name);
        text = read_file(fixture, &size);
        REQUIRE_MSG(text != NULL, "no fixture %s for version %d", fixture, v);
        REQUIRE(raw_exec(path, text) == SQLITE_OK);
        free(text);
        CHECK_INT(raw_int(path, "PRAGMA user_version"), v);
        tasks = raw_int(path, "SELECT count(*) FROM tasks");
        samples = raw_int(path, "SELECT count(*) FROM samples");
        int64_t cycles = raw_int(path, "SELECT count(*) FROM gc_cycles");
        CHECK(tasks > 0 && cycles > 0);

        /* Read-only, as the query commands open it: migrated all the same. */
        REQUIRE_RC(store_open(path, STORE_READONLY, &st, err, sizeof err), 0,
                   store_strerror);
        store_close(&st);
        CHECK_INT(raw_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        got = schema_shape(path);
        REQUIRE(got != NULL);
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "migrated from v%d:\n%s\nfresh:\n%s\n", v, got, want);
            CHECK(false);
        }
        free(got);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM tasks"), tasks);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM samples"), samples);
        /* Version 7's max_stack_bytes: cycles stored before it did not
        ** measure it and read NULL; their stack_bytes stays as it was. */
        CHECK_INT(raw_int(path, "SELECT count(*) FROM gc_cycles"), cycles);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM gc_cycles WHERE max_stack_bytes IS NULL"),
                  cycles);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM gc_cycles WHERE stack_bytes IS NULL"), 0);
        /* Every key of every task's params_json and runtime_json is a row. */
        params = raw_int(path, "SELECT count(*) FROM params");
        CHECK_INT(params, raw_int(path,
            "SELECT (SELECT count(*) FROM tasks, json_each(tasks.params_json)) +"
            " (SELECT count(*) FROM tasks, json_each(tasks.runtime_json))"));
        CHECK(raw_int(path, "SELECT count(*) FROM params WHERE name = 'gogc'"
                            " AND value = 200") > 0);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM task_summary"), tasks);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM run_summary"),
                  raw_int(path, "SELECT count(*) FROM runs"));
        /* A second open finds nothing to do; the new trigger fills params
        ** for tasks written after the migration. */
        REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), 0, store_strerror);
        store_task_t t = {.run_id = 1, .seq = 1000, .kernel = "churn",
                          .params_json = "{\"objects\": 5}",
                          .runtime_json = "{\"gogc\": 300}"};
        CHECK_RC(store_task_insert(st, &t, NULL), 0, store_strerror);
        store_close(&st);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM params"), params + 2);
        CHECK_INT(raw_int(path, "SELECT count(*) FROM params WHERE name = 'gogc'"
                                " AND value = 300 AND kind = 'runtime'"), 1);
        /* Runs left 'running' before version 6 (v3.sql has one, its
        ** coordinator killed) have no liveness mark: shown interrupted. */
        int64_t running = raw_int(path, "SELECT count(*) FROM runs WHERE status = 'running'");
        if (v == 3) {
            CHECK_INT(running, 1);
            CHECK(raw_int(path, "SELECT count(*) FROM heap_profiles") > 0);
        }
        REQUIRE_RC(store_open(path, STORE_READONLY, &st, err, sizeof err), 0,
                   store_strerror);
        store_run_info_t *runs;
        size_t n;
        store_runs_filter_t f = {.status = "running", .since_unix_ns = STORE_NONE};
        REQUIRE_RC(store_runs_read(st, &f, &runs, &n), 0, store_strerror);
        CHECK_INT(n, 0);
        store_runs_free(&runs, n);
        f.status = "interrupted";
        REQUIRE_RC(store_runs_read(st, &f, &runs, &n), 0, store_strerror);
        CHECK_INT(n, running);
        for (size_t i = 0; i < n; i++)
            CHECK_CONTAINS(runs[i].error, "no liveness mark");
        store_runs_free(&runs, n);
        store_close(&st);
        free(path);
    }
    free(want);
    free(fresh);
}

/* A file that says it is of version 1 but is not ours is refused, not
** migrated: it is left as it was. */
static void test_migrate_refuses_foreign(void)
{
    char *path = tmp_path("migrate-foreign.db");
    char err[512];
    store_t *st;

    REQUIRE(raw_exec(path, "CREATE TABLE runs (id INTEGER);"
                           "PRAGMA user_version = 1;") == SQLITE_OK);
    CHECK_RC(store_open(path, 0, &st, err, sizeof err), STORE_ESCHEMA, store_strerror);
    CHECK(st == NULL);
    CHECK_CONTAINS(err, "not a heapsim database");
    CHECK_INT(raw_int(path, "PRAGMA user_version"), 1);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM sqlite_master"), 1);
    free(path);
}

/* ---- a run ----------------------------------------------------------- */

static const char output_text[] =
    "line one\n\tindented \"quoted\" \\back\\slash /path/\r\nµs ✓ end";

typedef struct fixture {
    store_t *st;
    int64_t run_id;
    int64_t task_id[3];
} fixture_t;

/* A finished run: three tasks (done, failed, never started), two workers,
** 25 samples and 4 GC cycles for the first task, metrics. */
static int fill_run(fixture_t *fx, const char *token, const char *name)
{
    store_run_t run = {
        .token = token, .name = name, .scenario_path = "scenarios/fib.yaml",
        .scenario_text = "name: fib\n", .settings_json = "{\"gogc\": 100}",
        .command_line = "heapsim run scenarios/fib.yaml", .host = "testhost",
        .workers = 2, .started_unix_ns = 1700000000000000000LL,
    };
    store_worker_t w = { .name = "testhost:100", .host = "testhost", .pid = 100,
                         .ncpu = 2, .joined_unix_ns = 1700000000001000000LL };
    store_task_result_t done = {
        .status = "done", .output = output_text,
        .ended_unix_ns = 1700000001500000000LL, .wall_ns = 1234567890,
        .alloc_objects = 1234567, .alloc_bytes = 50 << 20, .gc_cycles = 4,
        .pause_max_ns = 250000, .pause_total_ns = 600000,
        .peak_heap_bytes = 12 << 20, .peak_rss_bytes = 40 << 20,
        .stack_hwm_bytes = 65536, .goroutines_max = 8,
    };
    store_task_result_t failed = {
        .status = "failed", .error = "out of heap\nat depth 30",
        .ended_unix_ns = 1700000002000000000LL, .wall_ns = 5000000,
    };
    int rc;

    if ((rc = store_run_insert(fx->st, &run, &fx->run_id)))
        return rc;
    w.run_id = fx->run_id;
    if ((rc = store_worker_insert(fx->st, &w)))
        return rc;
    w.name = "testhost:101";
    w.pid = 101;
    if ((rc = store_worker_insert(fx->st, &w)))
        return rc;
    for (uint32_t seq = 0; seq < 3; seq++) {
        char params[64];
        store_task_t task = {
            .run_id = fx->run_id, .seq = seq, .kernel = "fib",
            .params_json = params, .runtime_json = "{\"gogc\": 100}",
            .sweep_point = seq, .repeat_index = 0,
            .seed = 0xfedcba9876543210ULL,
        };

        snprintf(params, sizeof params, "{\"depth\": %u, \"mode\": \"tree\"}",
                 10 + 10 * seq);
        if ((rc = store_task_insert(fx->st, &task, &fx->task_id[seq])))
            return rc;
    }
    if ((rc = store_task_start(fx->st, fx->task_id[0], "testhost:100", "testhost",
                               1700000000100000000LL)) ||
        (rc = store_task_start(fx->st, fx->task_id[1], "testhost:101", "testhost",
                               1700000001600000000LL)))
        return rc;
    if ((rc = store_begin(fx->st)))
        return rc;
    for (int i = 0; i < 25; i++) {
        store_sample_t s = {
            .run_id = fx->run_id, .task_id = fx->task_id[0], .worker = "testhost:100",
            .t_ns = i * 100000000LL, .unix_ns = 1700000000100000000LL + i * 100000000LL,
            .heap_alloc_bytes = i << 20, .num_gc = i / 6, .rss_bytes = 30 << 20,
        };

        if ((rc = store_sample_insert(fx->st, &s)))
            return rc;
    }
    for (int i = 1; i <= 4; i++) {
        store_gc_t gc = {
            .run_id = fx->run_id, .task_id = fx->task_id[0], .host = "testhost",
            .heap = "/heapsim-test", .worker = "testhost:100",
            .fields = {
                .cycle = i, .start_unix_ns = 1700000000200000000LL + i * 300000000LL,
                .gc_cpu_fraction = 0.01 * i, .stw_ns = 100000 + i,
                .heap_live_bytes = 4 << 20, .nprocs = 2,
            },
        };

        if ((rc = store_gc_insert(fx->st, &gc)))
            return rc;
    }
    if ((rc = store_commit(fx->st)))
        return rc;
    if ((rc = store_task_finish(fx->st, fx->task_id[0], &done)) ||
        (rc = store_metric_insert(fx->st, fx->task_id[0], "ns_per_call", 41.2, "ns")) ||
        (rc = store_metric_insert(fx->st, fx->task_id[0], "calls", 3.0, NULL)) ||
        (rc = store_metric_insert(fx->st, fx->task_id[0], "calls", 1000000.0, "ops")) ||
        (rc = store_task_finish(fx->st, fx->task_id[1], &failed)))
        return rc;
    return store_run_finish(fx->st, fx->run_id, "done", 1700000003000000000LL, NULL);
}


static const char *liveness_path;

/* Whether the file itself says run_id is 'running' (readers never write). */
static bool raw_running(int64_t run_id)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT status = 'running' FROM runs WHERE id = %lld",
             (long long)run_id);
    return raw_int(liveness_path, sql) == 1;
}

/* ---- the liveness mark ------------------------------------------------ */

/* The status readers show of run `run_id` (store_runs_read with no
** filter, then store_run_read and store_resume_load agree), owned; NULL
** when there is no such run. */
static char *shown_status(store_t *st, int64_t run_id, char **error)
{
    store_run_info_t *runs;
    store_run_view_t *view;
    store_resume_t r;
    char *status = NULL;
    size_t n;

    if (error)
        *error = NULL;
    REQUIRE_RC(store_runs_read(st, NULL, &runs, &n), 0, store_strerror);
    for (size_t i = 0; i < n; i++)
        if (runs[i].run_id == run_id) {
            status = strdup(runs[i].status);
            if (error && runs[i].error)
                *error = strdup(runs[i].error);
            CHECK_INT(runs[i].owner_gone, strcmp(status, "interrupted") == 0 &&
                                          raw_running(run_id));
        }
    store_runs_free(&runs, n);
    if (!status)
        return NULL;
    REQUIRE_RC(store_run_read(st, run_id, &view), 0, store_strerror);
    CHECK_STR(view->info.status, status);
    store_run_view_free(&view);
    REQUIRE_RC(store_resume_load(st, run_id, &r), 0, store_strerror);
    CHECK_STR(r.status, status);
    store_resume_free(&r);
    return status;
}

/* A 'running' run is shown 'interrupted' when its owner is gone: a
** process of this host that exited (a real child), a pid whose start time
** differs (reused), an owner of another boot, an owner elsewhere whose
** heartbeat is older than STORE_STALE_NS, a run with no mark. The file is
** not written; a status filter and limit count the status shown; claim
** and beat renew the mark. */
static void test_liveness(void)
{
    char *path = tmp_path("liveness.db");
    char err[512], *status, *error;
    store_t *st;
    proc_id_t self, child, reused, elsewhere, rebooted;
    int64_t ids[6];
    int fds[2];
    char c;

    liveness_path = path;
    REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), 0, store_strerror);
    REQUIRE_INT(proc_self(&self), 0);

    /* A child that lives until we close the pipe. */
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[1]);
        (void)!read(fds[0], &c, 1);
        _exit(0);
    }
    close(fds[0]);
    child = self;
    child.pid = pid;
    child.started_ticks = proc_started_ticks(pid);
    REQUIRE(child.started_ticks >= 0);
    reused = self;
    reused.started_ticks = self.started_ticks + 1;
    elsewhere = self;
    elsewhere.host[0] = self.host[0] == 'x' ? 'y' : 'x';
    rebooted = self;
    rebooted.boot[0] = self.boot[0] == '0' ? '1' : '0';

    const proc_id_t *owners[6] = {&self, &child, &reused, &elsewhere, &rebooted, NULL};
    int64_t now = clock_unix_ns();
    for (int i = 0; i < 6; i++) {
        char token[32];
        snprintf(token, sizeof token, "t-live-%d", i);
        store_run_t run = {.token = token, .name = "live", .host = "h",
                           .started_unix_ns = now - 2 * STORE_STALE_NS + i,
                           .owner = owners[i]};
        REQUIRE_RC(store_run_insert(st, &run, &ids[i]), 0, store_strerror);
    }
    CHECK_INT(raw_int(path, "SELECT count(*) FROM runs WHERE owner_pid IS NOT NULL"
                            " AND heartbeat_unix_ns = started_unix_ns"), 5);

    /* This process, and the child while it runs: running. */
    status = shown_status(st, ids[0], NULL);
    CHECK_STR(status, "running");
    free(status);
    status = shown_status(st, ids[1], NULL);
    CHECK_STR(status, "running");
    free(status);
    /* A reused pid, another boot of this host, no mark: interrupted. */
    status = shown_status(st, ids[2], &error);
    CHECK_STR(status, "interrupted");
    CHECK_CONTAINS(error, "is gone");
    free(status);
    free(error);
    status = shown_status(st, ids[4], &error);
    CHECK_STR(status, "interrupted");
    CHECK_CONTAINS(error, "earlier boot");
    free(status);
    free(error);
    status = shown_status(st, ids[5], &error);
    CHECK_STR(status, "interrupted");
    CHECK_CONTAINS(error, "no liveness mark");
    free(status);
    free(error);
    /* Elsewhere: judged by the heartbeat, 2 x STORE_STALE_NS old. */
    status = shown_status(st, ids[3], &error);
    CHECK_STR(status, "interrupted");
    CHECK_CONTAINS(error, "no heartbeat from its owner");
    free(status);
    free(error);
    REQUIRE_RC(store_run_beat(st, ids[3], clock_unix_ns()), 0, store_strerror);
    status = shown_status(st, ids[3], NULL);
    CHECK_STR(status, "running");
    free(status);
    CHECK_RC(store_run_beat(st, 999999, 1), STORE_ENOTFOUND, store_strerror);

    /* A task the file says runs, of a run whose owner is gone: interrupted
    ** too in the run's view. */
    store_task_t task = {.run_id = ids[2], .seq = 0, .kernel = "fib"};
    int64_t task_id;
    REQUIRE_RC(store_task_insert(st, &task, &task_id), 0, store_strerror);
    REQUIRE_RC(store_task_start(st, task_id, "w", "h", now), 0, store_strerror);
    store_run_view_t *view;
    REQUIRE_RC(store_run_read(st, ids[2], &view), 0, store_strerror);
    REQUIRE_INT(view->ntasks, 1);
    CHECK_STR(view->tasks[0].status, "interrupted");
    store_run_view_free(&view);
    REQUIRE_RC(store_run_read(st, ids[0], &view), 0, store_strerror);
    CHECK_INT(view->info.owner_gone, 0);
    store_run_view_free(&view);

    /* The child exits: a zombie, then reaped. */
    close(fds[1]);
    siginfo_t info;
    REQUIRE(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) == 0);
    status = shown_status(st, ids[1], &error);
    CHECK_STR(status, "interrupted");
    CHECK_CONTAINS(error, "is gone");
    free(status);
    free(error);
    REQUIRE(waitpid(pid, NULL, 0) == pid);
    status = shown_status(st, ids[1], NULL);
    CHECK_STR(status, "interrupted");
    free(status);
    /* Nothing was written: the file still says running for all six. */
    CHECK_INT(raw_int(path, "SELECT count(*) FROM runs WHERE status = 'running'"
                            " AND error IS NULL"), 6);

    /* A status filter is the status shown, and the limit counts those. */
    store_run_info_t *runs;
    size_t n;
    store_runs_filter_t filter = {.status = "interrupted", .since_unix_ns = STORE_NONE};
    REQUIRE_RC(store_runs_read(st, &filter, &runs, &n), 0, store_strerror);
    CHECK_INT(n, 4);
    for (size_t i = 0; i < n; i++)
        CHECK_STR(runs[i].status, "interrupted");
    store_runs_free(&runs, n);
    filter.limit = 2;
    REQUIRE_RC(store_runs_read(st, &filter, &runs, &n), 0, store_strerror);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_INT(runs[0].run_id, ids[5]);      /* newest first */
        CHECK_INT(runs[1].run_id, ids[4]);
    }
    store_runs_free(&runs, n);
    filter = (store_runs_filter_t){.status = "running", .since_unix_ns = STORE_NONE};
    REQUIRE_RC(store_runs_read(st, &filter, &runs, &n), 0, store_strerror);
    CHECK_INT(n, 2);
    store_runs_free(&runs, n);

    /* A claim makes this process the owner again: running, no error. */
    REQUIRE_RC(store_run_finish(st, ids[2], "interrupted", 5, "stopped"), 0,
               store_strerror);
    REQUIRE_RC(store_run_claim(st, ids[2], &self, clock_unix_ns()), 0, store_strerror);
    status = shown_status(st, ids[2], &error);
    CHECK_STR(status, "running");
    CHECK(error == NULL);
    free(status);
    free(error);
    CHECK_INT(raw_int(path, "SELECT ended_unix_ns IS NULL AND error IS NULL"
                            " FROM runs WHERE id = 3"), 1);
    CHECK_RC(store_run_claim(st, 999999, &self, 1), STORE_ENOTFOUND, store_strerror);
    /* A finished run is what the file says, whatever its owner. */
    REQUIRE_RC(store_run_finish(st, ids[1], "done", 7, NULL), 0, store_strerror);
    status = shown_status(st, ids[1], NULL);
    CHECK_STR(status, "done");
    free(status);
    store_close(&st);
    free(path);
}

/* ---- the read model (store_read.c) ----------------------------------- */

/* runs filtered; one run with its figures, pause percentiles, GC CPU
** share, metrics and points; a task's series whole, and spread by index
** seeks when it has more rows than asked for. */
static void test_read_model(void)
{
    char *path = tmp_path("read.db");
    char err[512];
    fixture_t fx = { 0 };
    store_run_info_t *runs;
    store_run_view_t *view;
    store_task_series_t series;
    size_t n;

    REQUIRE_RC(store_open(path, 0, &fx.st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(fill_run(&fx, "t-read-1", "fib"), 0, store_strerror);
    REQUIRE_RC(fill_run(&fx, "t-read-2", "other"), 0, store_strerror);
    /* 1000 more samples of task 0 of run 2, 1 ms apart after its 25. */
    REQUIRE_RC(store_begin(fx.st), 0, store_strerror);
    for (int i = 0; i < 1000; i++) {
        store_sample_t smp = {
            .run_id = fx.run_id, .task_id = fx.task_id[0], .worker = "testhost:100",
            .t_ns = 3000000000LL + i * 1000000LL, .heap_inuse_bytes = i,
            .goroutines = 7,
        };
        REQUIRE_RC(store_sample_insert(fx.st, &smp), 0, store_strerror);
    }
    REQUIRE_RC(store_commit(fx.st), 0, store_strerror);

    store_runs_filter_t filter = {.since_unix_ns = STORE_NONE};
    REQUIRE_RC(store_runs_read(fx.st, &filter, &runs, &n), 0, store_strerror);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_INT(runs[0].run_id, fx.run_id);       /* newest first (same start: by id) */
        CHECK_STR(runs[1].name, "fib");
        CHECK_INT(runs[1].tasks_total, 3);
        CHECK_INT(runs[1].tasks_done, 1);
        CHECK_INT(runs[1].tasks_failed, 1);
        CHECK_INT(runs[1].workers_joined, 2);
    }
    store_runs_free(&runs, n);
    CHECK(runs == NULL);
    filter.scenario = "fib";
    REQUIRE_RC(store_runs_read(fx.st, &filter, &runs, &n), 0, store_strerror);
    CHECK_INT(n, 1);
    store_runs_free(&runs, n);
    filter = (store_runs_filter_t){.status = "failed", .since_unix_ns = STORE_NONE};
    REQUIRE_RC(store_runs_read(fx.st, &filter, &runs, &n), 0, store_strerror);
    CHECK_INT(n, 0);
    store_runs_free(&runs, n);
    filter = (store_runs_filter_t){.since_unix_ns = 1800000000000000000LL, .limit = 1};
    REQUIRE_RC(store_runs_read(fx.st, &filter, &runs, &n), 0, store_strerror);
    CHECK_INT(n, 0);
    store_runs_free(&runs, n);

    /* Events, as another writer would store them. */
    char events_sql[256];
    snprintf(events_sql, sizeof events_sql,
             "INSERT INTO events (run_id, task_id, unix_ns, kind, worker, count)"
             " VALUES (%lld, NULL, 20, 'telemetry_dropped', 'testhost:100', 12),"
             " (%lld, %lld, 10, 'task_requeued', NULL, NULL)",
             (long long)fx.run_id, (long long)fx.run_id, (long long)fx.task_id[1]);
    REQUIRE(raw_exec(path, events_sql) == SQLITE_OK);

    CHECK_RC(store_run_read(fx.st, 999, &view), STORE_ENOTFOUND, store_strerror);
    CHECK(view == NULL);
    REQUIRE_RC(store_run_read(fx.st, fx.run_id, &view), 0, store_strerror);
    CHECK_STR(view->info.name, "other");
    CHECK_INT(view->ntasks, 3);
    CHECK_INT(view->npoints, 3);                    /* three sweep points, one task each */
    if (view->ntasks == 3) {
        const store_task_view_t *t = &view->tasks[0];
        CHECK(t->fig[STORE_FIG_wall_ns] == 1234567890);
        /* Pauses 100001..100004: nearest rank. */
        CHECK(t->fig[STORE_FIG_pause_p50_ns] == 100002);
        CHECK(t->fig[STORE_FIG_pause_p99_ns] == 100004);
        CHECK(t->fig[STORE_FIG_gc_cycles] == 4);
        CHECK(isfinite(t->fig[STORE_FIG_gc_cpu_share]));
        CHECK_INT(t->nmetrics, 2);
        if (t->nmetrics == 2) {
            CHECK_STR(t->metrics[0].name, "calls");  /* by name */
            CHECK_STR(t->metrics[0].unit, "ops");
            CHECK_STR(t->metrics[1].unit, "ns");
        }
        CHECK_STR(t->output, output_text);           /* byte for byte */
        CHECK_STR(view->tasks[1].status, "failed");
        CHECK_CONTAINS(view->tasks[1].error, "out of heap");
        CHECK(view->tasks[1].output == NULL);
        /* A task never started: every figure unknown. */
        CHECK(isnan(view->tasks[2].fig[STORE_FIG_wall_ns]));
        CHECK(isnan(view->tasks[2].fig[STORE_FIG_pause_p99_ns]));
        CHECK_INT(view->points[1].ntasks, 1);
        CHECK_INT(view->points[1].tasks[0], 1);
    }
    CHECK_INT(view->nevents, 2);
    if (view->nevents == 2) {
        CHECK_STR(view->events[0].kind, "task_requeued");   /* in time order */
        CHECK_INT(view->events[0].task_id, fx.task_id[1]);
        CHECK_INT(view->events[0].count, STORE_NONE);
        CHECK_INT(view->events[1].count, 12);
        CHECK_STR(view->events[1].worker, "testhost:100");
    }
    int64_t task0 = view->tasks[0].task_id;
    store_run_view_free(&view);
    CHECK(view == NULL);

    /* Whole: every row. */
    REQUIRE_RC(store_task_series_read(fx.st, task0, 0, &series), 0, store_strerror);
    CHECK_INT(series.nsamples, 1025);
    CHECK_INT(series.ngcs, 4);
    if (series.ngcs == 4) {
        CHECK_INT(series.gcs[0].f.stw_ns, 100001);
        CHECK_INT(series.gcs[0].t_ns, 400000000);   /* start since the task started */
        CHECK(series.gcs[3].f.gc_cpu_fraction == 0.04);
    }
    store_task_series_clear(&series);
    /* At most 5000: still all of them, by the first query alone. */
    REQUIRE_RC(store_task_series_read(fx.st, task0, 5000, &series), 0, store_strerror);
    CHECK_INT(series.nsamples, 1025);
    store_task_series_clear(&series);
    /* At most 50: spread over the time range, ends included, in order,
    ** each row once. */
    REQUIRE_RC(store_task_series_read(fx.st, task0, 50, &series), 0, store_strerror);
    CHECK(series.nsamples > 25 && series.nsamples <= 50);
    CHECK_INT(series.samples[0].t_ns, 0);
    CHECK_INT(series.samples[series.nsamples - 1].t_ns, 3000000000LL + 999 * 1000000LL);
    for (size_t i = 1; i < series.nsamples; i++)
        CHECK(series.samples[i].t_ns > series.samples[i - 1].t_ns);
    CHECK_INT(series.ngcs, 4);
    store_task_series_clear(&series);
    CHECK_RC(store_task_series_read(fx.st, 99999, 10, &series), STORE_ENOTFOUND,
             store_strerror);
    store_close(&fx.st);
    free(path);
}

static void test_write_errors(void)
{
    char *path = tmp_path("errors.db");
    char err[512];
    fixture_t fx = { 0 };
    store_task_t task = { .kernel = "fib", .params_json = "{}" };
    store_task_result_t r = { .status = "done" };
    store_run_t run = { .token = "t-dup" };

    REQUIRE_RC(store_open(path, 0, &fx.st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(fill_run(&fx, "t-dup", "fib"), 0, store_strerror);

    REQUIRE_RC(store_run_insert(fx.st, &run, NULL), STORE_EUSAGE, store_strerror);
    REQUIRE_CONTAINS(store_errmsg(fx.st), "UNIQUE");
    run.token = NULL;
    REQUIRE_RC(store_run_insert(fx.st, &run, NULL), STORE_EUSAGE, store_strerror);
    run.token = "t-json";
    run.settings_json = "{gogc: 1}";
    REQUIRE_RC(store_run_insert(fx.st, &run, NULL), STORE_EUSAGE, store_strerror);
    REQUIRE_CONTAINS(store_errmsg(fx.st), "settings_json");

    REQUIRE_RC(store_run_finish(fx.st, 999, "done", 1, NULL), STORE_ENOTFOUND, store_strerror);
    REQUIRE_CONTAINS(store_errmsg(fx.st), "no run 999");
    REQUIRE_RC(store_run_finish(fx.st, fx.run_id, "exploded", 1, NULL), STORE_EUSAGE, store_strerror);
    REQUIRE_RC(store_task_start(fx.st, 999, "w", "h", 1), STORE_ENOTFOUND, store_strerror);
    REQUIRE_RC(store_task_finish(fx.st, 999, &r), STORE_ENOTFOUND, store_strerror);
    r.status = "maybe";
    REQUIRE_RC(store_task_finish(fx.st, fx.task_id[2], &r), STORE_EUSAGE, store_strerror);

    task.run_id = 999;                                  /* no such run */
    REQUIRE_RC(store_task_insert(fx.st, &task, NULL), STORE_EUSAGE, store_strerror);
    REQUIRE_CONTAINS(store_errmsg(fx.st), "FOREIGN KEY");
    task.run_id = fx.run_id;                            /* seq 0 exists */
    REQUIRE_RC(store_task_insert(fx.st, &task, NULL), STORE_EUSAGE, store_strerror);
    task.seq = 7;
    task.params_json = "[1, 2]";
    REQUIRE_RC(store_task_insert(fx.st, &task, NULL), STORE_EUSAGE, store_strerror);
    REQUIRE_CONTAINS(store_errmsg(fx.st), "not a JSON object");
    task.params_json = "{\"a\": 1} trailing";
    REQUIRE_RC(store_task_insert(fx.st, &task, NULL), STORE_EUSAGE, store_strerror);

    REQUIRE_RC(store_metric_insert(fx.st, fx.task_id[0], "output", 1, NULL), STORE_EUSAGE, store_strerror);
    REQUIRE_RC(store_metric_insert(fx.st, fx.task_id[0], "x", NAN, NULL), STORE_EUSAGE, store_strerror);
    REQUIRE_RC(store_metric_insert(fx.st, fx.task_id[0], "x", INFINITY, NULL), STORE_EUSAGE, store_strerror);
    REQUIRE_RC(store_metric_insert(fx.st, 999, "x", 1, NULL), STORE_EUSAGE, store_strerror);

    REQUIRE_RC(store_commit(fx.st), STORE_EUSAGE, store_strerror);        /* none open */
    REQUIRE_RC(store_rollback(fx.st), 0, store_strerror);
    REQUIRE_RC(store_begin(fx.st), 0, store_strerror);
    REQUIRE_RC(store_begin(fx.st), STORE_EUSAGE, store_strerror);
    run.settings_json = NULL;
    REQUIRE_RC(store_run_insert(fx.st, &run, NULL), 0, store_strerror);
    REQUIRE_RC(store_rollback(fx.st), 0, store_strerror);
    store_close(&fx.st);
    REQUIRE(raw_int(path, "SELECT count(*) FROM runs") == 1);
    REQUIRE(raw_int(path, "SELECT count(*) FROM tasks") == 3);
    REQUIRE(raw_int(path, "SELECT count(*) FROM metrics") == 2);
    REQUIRE(raw_int(path, "SELECT value FROM metrics WHERE name = 'calls'") == 1000000);
    REQUIRE(raw_int(path, "SELECT count(*) FROM samples") == 25);
    REQUIRE(raw_int(path, "SELECT count(*) FROM gc_cycles WHERE task_id IS NOT NULL") == 4);
    /* The seed's 64 bits survive. */
    REQUIRE((uint64_t)raw_int(path, "SELECT seed FROM tasks WHERE seq = 1") ==
          0xfedcba9876543210ULL);
    free(path);
}

/* runs as the read model has them: every field, newest first, the limit;
** a name that would break SQL built by pasting is just a name. */
static void test_runs_read(void)
{
    char *path = tmp_path("runs.db");
    char err[512];
    fixture_t fx = { 0 };
    store_run_info_t *runs;
    size_t n;
    static const char evil_name[] = "x'); DROP TABLE runs; --\nline 2\x1b[2J";

    REQUIRE_RC(store_open(path, 0, &fx.st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(fill_run(&fx, "t-runs", "fib"), 0, store_strerror);
    {
        proc_id_t me;
        REQUIRE(proc_self(&me) == 0);
        store_run_t evil = { .token = "t-evil", .name = evil_name,
                             .started_unix_ns = 1700000009000000000LL,
                             .owner = &me };   /* alive: still running */

        REQUIRE_RC(store_run_insert(fx.st, &evil, NULL), 0, store_strerror);
    }
    store_runs_filter_t all = {.since_unix_ns = STORE_NONE};
    REQUIRE_RC(store_runs_read(fx.st, &all, &runs, &n), 0, store_strerror);
    REQUIRE(n == 2);
    CHECK_STR(runs[0].name, evil_name);             /* newest first, byte for byte */
    CHECK_STR(runs[0].status, "running");
    CHECK_INT(runs[0].ended_unix_ns, STORE_NONE);   /* still running */
    CHECK_INT(runs[0].tasks_total, 0);
    CHECK_INT(runs[1].run_id, fx.run_id);
    CHECK_STR(runs[1].token, "t-runs");
    CHECK_STR(runs[1].status, "done");
    CHECK_STR(runs[1].host, "testhost");
    CHECK_STR(runs[1].scenario_path, "scenarios/fib.yaml");
    CHECK_STR(runs[1].command_line, "heapsim run scenarios/fib.yaml");
    CHECK_STR(runs[1].settings_json, "{\"gogc\": 100}");
    CHECK(runs[1].error == NULL);
    CHECK_INT(runs[1].started_unix_ns, 1700000000000000000LL);
    CHECK_INT(runs[1].ended_unix_ns, 1700000003000000000LL);
    CHECK_INT(runs[1].workers_planned, 2);
    CHECK_INT(runs[1].workers_joined, 2);
    CHECK_INT(runs[1].tasks_total, 3);
    CHECK_INT(runs[1].tasks_done, 1);
    CHECK_INT(runs[1].tasks_failed, 1);
    store_runs_free(&runs, n);
    all.limit = 1;
    REQUIRE_RC(store_runs_read(fx.st, &all, &runs, &n), 0, store_strerror);
    CHECK_INT(n, 1);
    store_runs_free(&runs, n);
    store_close(&fx.st);
    REQUIRE(raw_int(path, "SELECT count(*) FROM runs") == 2);
    free(path);
}

/* One run as the read model has it (what `show` and the end-of-run
** summary print): every figure of every task, its output byte for byte,
** its metrics, and what is not known as unknown. */
static void test_run_read(void)
{
    char *path = tmp_path("show.db");
    char err[512];
    fixture_t fx = { 0 };
    store_run_view_t *view;
    const store_task_view_t *t0, *t1, *t2;

    REQUIRE_RC(store_open(path, 0, &fx.st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(fill_run(&fx, "t-show", "fib"), 0, store_strerror);
    REQUIRE_RC(store_run_read(fx.st, fx.run_id, &view), 0, store_strerror);
    CHECK_INT(view->info.run_id, fx.run_id);
    CHECK_STR(view->info.token, "t-show");
    CHECK_STR(view->info.name, "fib");
    CHECK_STR(view->info.status, "done");
    CHECK_INT(view->info.workers_joined, 2);
    REQUIRE(view->ntasks == 3);
    t0 = &view->tasks[0];
    t1 = &view->tasks[1];
    t2 = &view->tasks[2];
    CHECK_INT(t0->task_id, fx.task_id[0]);
    CHECK_INT(t0->seq, 0);
    CHECK_STR(t0->kernel, "fib");
    CHECK_STR(t0->params_json, "{\"depth\": 10, \"mode\": \"tree\"}");
    CHECK_STR(t0->runtime_json, "{\"gogc\": 100}");
    CHECK(t0->label == NULL);
    CHECK_INT(t0->sweep_point, 0);
    CHECK_INT(t0->repeat_index, 0);
    CHECK_STR(t0->status, "done");
    CHECK(t0->error == NULL);
    CHECK_STR(t0->worker, "testhost:100");
    CHECK(t0->fig[STORE_FIG_wall_ns] == 1234567890);
    CHECK(t0->fig[STORE_FIG_alloc_objects] == 1234567);
    CHECK(t0->fig[STORE_FIG_alloc_bytes] == 50 << 20);
    CHECK(t0->fig[STORE_FIG_gc_cycles] == 4);
    CHECK(t0->fig[STORE_FIG_pause_max_ns] == 250000);
    CHECK(t0->fig[STORE_FIG_pause_total_ns] == 600000);
    CHECK(t0->fig[STORE_FIG_peak_heap_bytes] == 12 << 20);
    CHECK(t0->fig[STORE_FIG_peak_rss_bytes] == 40 << 20);
    CHECK(t0->fig[STORE_FIG_stack_hwm_bytes] == 65536);
    CHECK(t0->fig[STORE_FIG_goroutines_max] == 8);
    CHECK_STR(t0->output, output_text);
    REQUIRE(t0->nmetrics == 2);
    CHECK_STR(t0->metrics[0].name, "calls");
    CHECK(t0->metrics[0].value == 1000000.0);         /* the second insert replaced it */
    CHECK_STR(t0->metrics[1].name, "ns_per_call");
    CHECK(t0->metrics[1].value == 41.2);
    /* Its figures under Go's names. */
    CHECK_INT(t0->go.alloc_bytes, 50 << 20);
    CHECK_INT(t0->go.gc_cycles, 4);
    CHECK_INT(t0->go.pause_count, 4);
    CHECK_INT(t0->go.pause_total_ns, 100001 + 100002 + 100003 + 100004);
    CHECK_INT(t0->go.heap_objects_bytes, 24 << 20);   /* its last sample */
    CHECK_STR(t1->status, "failed");
    CHECK_STR(t1->error, "out of heap\nat depth 30");
    CHECK(t1->output == NULL);
    CHECK_INT(t1->nmetrics, 0);
    CHECK_STR(t2->status, "pending");
    CHECK(t2->worker == NULL);
    CHECK(isnan(t2->fig[STORE_FIG_wall_ns]));          /* not finished: unknown */
    CHECK_INT(t2->go.heap_objects_bytes, STORE_NONE);  /* no sample */
    store_run_view_free(&view);

    /* No such run: an error that says so, nothing read. */
    REQUIRE_RC(store_run_read(fx.st, 4242, &view), STORE_ENOTFOUND, store_strerror);
    CHECK(view == NULL);
    REQUIRE_CONTAINS(store_errmsg(fx.st), "no run 4242");
    store_close(&fx.st);
    free(path);
}

/* A run of churn swept over gogc = 50, 200 with 3 repeats each, the last
** repeat at 200 failed: two points of three tasks each, in seq order
** (render/ aggregates over the ones done). */
static void test_run_read_points(void)
{
    char *path = tmp_path("sweep.db");
    char err[512];
    store_t *st;
    store_run_view_t *view;
    int64_t run_id, task_id;

    REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), 0, store_strerror);
    {
        store_run_t run = { .token = "t-sweep", .name = "sweep", .started_unix_ns = 1 };

        REQUIRE_RC(store_run_insert(st, &run, &run_id), 0, store_strerror);
    }
    for (uint32_t seq = 0; seq < 6; seq++) {
        store_task_t task = {
            .run_id = run_id, .seq = seq, .kernel = "churn",
            .params_json = "{\"objects\": 1000}",
            .runtime_json = seq < 3 ? "{\"gogc\": 50}" : "{\"gogc\": 200}",
            .label = seq < 3 ? "gogc=50" : "gogc=200",
            .sweep_point = seq / 3, .repeat_index = seq % 3,
        };
        store_task_result_t r = {
            .status = seq == 5 ? "failed" : "done", .error = seq == 5 ? "boom" : NULL,
            .wall_ns = (seq + 1) * 100000000LL,
        };

        REQUIRE_RC(store_task_insert(st, &task, &task_id), 0, store_strerror);
        REQUIRE_RC(store_task_finish(st, task_id, &r), 0, store_strerror);
    }
    REQUIRE_RC(store_run_read(st, run_id, &view), 0, store_strerror);
    REQUIRE(view->npoints == 2);
    CHECK_STR(view->points[0].label, "gogc=50");
    CHECK_STR(view->points[0].runtime_json, "{\"gogc\": 50}");
    CHECK_INT(view->points[0].sweep_point, 0);
    CHECK_STR(view->points[1].label, "gogc=200");
    REQUIRE(view->points[0].ntasks == 3 && view->points[1].ntasks == 3);
    for (size_t k = 0; k < 3; k++) {
        CHECK_INT(view->points[0].tasks[k], k);
        CHECK_INT(view->points[1].tasks[k], 3 + k);
    }
    CHECK_STR(view->tasks[view->points[1].tasks[2]].status, "failed");
    store_run_view_free(&view);
    store_close(&st);
    free(path);
}

/* A file the store did not write (an old heapsim, a hand edit) is read as
** it is, without crashing: bad JSON and text as their text, a figure that
** is no number unknown. (render/ escapes it on the way out.) */
static void test_run_read_hostile_rows(void)
{
    char *path = tmp_path("hostile.db");
    char err[512];
    store_t *st;
    store_run_view_t *view;

    REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), 0, store_strerror);
    store_close(&st);
    REQUIRE(raw_exec(path,
                   "INSERT INTO runs (id, token, name, status) VALUES (5, 'h',"
                   " 'evil' || char(27) || '[2J' || char(10) || 'name', 'done');"
                   "INSERT INTO tasks (run_id, seq, kernel, params_json, status, wall_ns,"
                   " output) VALUES (5, 0, 'k', '{not json', 'done', 'fast',"
                   " CAST(x'ff41' AS TEXT));"
                   "INSERT INTO tasks (run_id, seq, kernel, status) VALUES (5, 1, 'k', 'x');")
          == SQLITE_OK);
    REQUIRE_RC(store_open(path, STORE_READONLY, &st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(store_run_read(st, 5, &view), 0, store_strerror);
    CHECK_STR(view->info.name, "evil\x1b[2J\nname");
    REQUIRE(view->ntasks == 2);
    CHECK_STR(view->tasks[0].params_json, "{not json");
    CHECK(isnan(view->tasks[0].fig[STORE_FIG_wall_ns]));   /* "fast" is no number */
    CHECK_STR(view->tasks[0].output, "\xff" "A");
    CHECK_STR(view->tasks[1].status, "x");
    CHECK(view->tasks[1].params_json == NULL);
    CHECK_INT(view->npoints, 2);
    store_run_view_free(&view);
    store_close(&st);
    free(path);
}

/* ---- sql ------------------------------------------------------------- */

static void test_sql(void)
{
    char *path = tmp_path("sql.db");
    char *attached = tmp_path("attached.db");
    char err[512], *sql, *text;
    fixture_t fx = { 0 };
    store_t *ro;
    size_t before_size, after_size;
    char *before, *after;

    REQUIRE_RC(store_open(path, 0, &fx.st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(fill_run(&fx, "t-sql", "fib"), 0, store_strerror);
    store_close(&fx.st);
    REQUIRE_RC(store_open(path, STORE_READONLY, &ro, err, sizeof err), 0, store_strerror);

    REQUIRE_RC(query_dump(ro, "SELECT seq, kernel, wall_ns, label FROM tasks ORDER BY seq;"
                              " -- trailing comment", NULL, &text), 0, store_strerror);
    CHECK_STR(text, "seq|kernel|wall_ns|label\n0|fib|1234567890|NULL\n"
                    "1|fib|5000000|NULL\n2|fib|NULL|NULL\n");
    free(text);

    /* Each value by its storage class, names as SQLite gives them. */
    REQUIRE_RC(query_dump(ro, "SELECT 7 AS i, 2.5 AS r, 'a\"b\nc' AS t, NULL AS n,"
                              " x'00ff10' AS b, 1 AS i, x'' AS e", NULL, &text),
               0, store_strerror);
    CHECK_STR(text, "i|r|t|n|b|i|e\n7|2.5|a\"b\nc|NULL|x'00ff10'|1|x''\n");
    free(text);
    REQUIRE_RC(query_dump(ro, "SELECT * FROM runs WHERE 0", NULL, &text), 0, store_strerror);
    CHECK(strncmp(text, "id|token|", 9) == 0 && strchr(text, '\n')[1] == '\0');
    free(text);

    /* Bad SQL: SQLite's words. */
    REQUIRE_RC(query_dump(ro, "SELEC 1", NULL, &text), STORE_EUSAGE, store_strerror);
    REQUIRE_CONTAINS(store_errmsg(ro), "syntax error");
    free(text);
    REQUIRE_RC(query_dump(ro, "SELECT * FROM nowhere", NULL, &text), STORE_EUSAGE, store_strerror);
    REQUIRE_CONTAINS(store_errmsg(ro), "no such table: nowhere");
    free(text);
    REQUIRE_RC(query_dump(ro, "  -- nothing\n", NULL, &text), STORE_EUSAGE, store_strerror);
    free(text);
    REQUIRE_RC(query_dump(ro, "SELECT 1; SELECT 2", NULL, &text), STORE_EUSAGE, store_strerror);
    REQUIRE_CONTAINS(store_errmsg(ro), "one statement");
    free(text);
    /* An error at run time, after a row. */
    REQUIRE_RC(query_dump(ro, "SELECT 1 UNION ALL SELECT abs(-9223372036854775808)", NULL,
                          &text), STORE_EUSAGE, store_strerror);
    CHECK_CONTAINS(store_errmsg(ro), "integer overflow");
    free(text);
    store_close(&ro);

    /* Writes are refused, on a read-write handle too, before they run. */
    before = read_file(path, &before_size);
    REQUIRE(before != NULL);
    REQUIRE_RC(store_open(path, 0, &fx.st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(store_open(path, STORE_READONLY, &ro, err, sizeof err), 0, store_strerror);
    if (asprintf(&sql, "ATTACH '%s' AS other", attached) < 0)
        abort();
    {
        const char *writes[] = {
            "DELETE FROM runs", "DROP TABLE tasks", "UPDATE tasks SET kernel = 'x'",
            "INSERT INTO runs (token, status) VALUES ('t', 'x')",
            "CREATE TEMP TABLE t (x)", "PRAGMA user_version = 9",
            "PRAGMA journal_mode = DELETE", "PRAGMA foreign_keys = OFF", "BEGIN",
            "VACUUM", sql,
        };

        for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
            REQUIRE_RC(query_dump(fx.st, writes[i], NULL, &text), STORE_EUSAGE, store_strerror);
            REQUIRE_CONTAINS(store_errmsg(fx.st), "only read-only statements");
            CHECK_STR(text, "");
            free(text);
            REQUIRE_RC(query_dump(ro, writes[i], NULL, &text), STORE_EUSAGE, store_strerror);
            REQUIRE_CONTAINS(store_errmsg(ro), "only read-only statements");
            free(text);
        }
    }
    free(sql);
    REQUIRE(!file_exists(attached));
    /* Reading pragmas are fine. */
    REQUIRE_RC(query_dump(ro, "PRAGMA table_info(metrics)", NULL, &text), 0, store_strerror);
    REQUIRE_CONTAINS(text, "unit");
    free(text);
    REQUIRE_RC(query_dump(ro, "PRAGMA user_version", NULL, &text), 0, store_strerror);
    free(text);
    /* The handle still writes normally afterwards (no stray transaction). */
    REQUIRE_RC(store_begin(fx.st), 0, store_strerror);
    REQUIRE_RC(store_rollback(fx.st), 0, store_strerror);
    store_close(&ro);
    store_close(&fx.st);
    after = read_file(path, &after_size);
    REQUIRE(after != NULL);
    REQUIRE(before_size == after_size && memcmp(before, after, before_size) == 0);
    REQUIRE(raw_int(path, "SELECT count(*) FROM runs") == 1);
    REQUIRE(raw_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION);
    free(after);
    free(before);
    free(attached);
    free(path);
}

/* A query's bounds: an endless CTE is stopped by the timeout, a value too
** large is refused, and afterwards the store is as before (no bound left
** behind by close). */
static void test_sql_bounds(void)
{
    char *path = tmp_path("bounds.db");
    char err[512], *text;
    store_t *st;
    store_query_opts_t o = {.timeout_ms = 200, .max_value_bytes = 1 << 20};

    REQUIRE_RC(store_open(path, 0, &st, err, sizeof err), 0, store_strerror);
    store_close(&st);
    REQUIRE_RC(store_open(path, STORE_READONLY, &st, err, sizeof err), 0, store_strerror);

    CHECK_RC(query_dump(st, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
                            " SELECT count(*) FROM c", &o, &text), STORE_EUSAGE, store_strerror);
    free(text);
    CHECK_CONTAINS(store_errmsg(st), "ran longer than 200 ms");

    CHECK_RC(query_dump(st, "SELECT length(randomblob(1e9))", &o, &text),
             STORE_EUSAGE, store_strerror);
    free(text);
    CHECK_CONTAINS(store_errmsg(st), "larger than 1048576 bytes");

    /* Within the bounds: the same store answers as before. */
    CHECK_RC(query_dump(st, "SELECT length(randomblob(1000)) AS n", &o, &text), 0,
             store_strerror);
    CHECK_STR(text, "n\n1000\n");
    free(text);

    /* No bound outlives its query: without bounds, neither applies. */
    CHECK_RC(query_dump(st, "SELECT length(randomblob(4000000)) AS n", NULL, &text),
             0, store_strerror);
    CHECK_STR(text, "n\n4000000\n");
    free(text);
    store_close(&st);
    free(path);
}

static void test_read_while_writing(void)
{
    char *path = tmp_path("wal.db");
    char err[512], *text;
    fixture_t fx = { 0 };
    store_t *ro;
    store_run_t second = { .token = "t-second", .name = "second",
                           .started_unix_ns = 1800000000000000000LL };
    store_run_info_t *runs;
    store_run_view_t *view;
    size_t n;

    REQUIRE_RC(store_open(path, 0, &fx.st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(fill_run(&fx, "t-first", "first"), 0, store_strerror);
    REQUIRE_RC(store_begin(fx.st), 0, store_strerror);
    REQUIRE_RC(store_run_insert(fx.st, &second, NULL), 0, store_strerror);
    for (int i = 0; i < 1000; i++) {
        store_sample_t s = { .run_id = fx.run_id, .task_id = fx.task_id[0], .t_ns = i };

        REQUIRE_RC(store_sample_insert(fx.st, &s), 0, store_strerror);
    }

    /* The writer holds its transaction open: the reader opens and reads the
    ** last committed state. */
    REQUIRE_RC(store_open(path, STORE_READONLY, &ro, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(store_runs_read(ro, NULL, &runs, &n), 0, store_strerror);
    CHECK_INT(n, 1);
    store_runs_free(&runs, n);
    REQUIRE_RC(query_dump(ro, "SELECT count(*) AS n FROM samples", NULL, &text), 0,
               store_strerror);
    CHECK_STR(text, "n\n25\n");
    free(text);
    REQUIRE_RC(store_run_read(ro, fx.run_id, &view), 0, store_strerror);
    store_run_view_free(&view);

    /* The reader cannot write. */
    REQUIRE_RC(store_begin(ro), STORE_EUSAGE, store_strerror);
    REQUIRE_RC(store_run_insert(ro, &second, NULL), STORE_EUSAGE, store_strerror);
    REQUIRE_CONTAINS(store_errmsg(ro), "read-only");

    REQUIRE_RC(store_commit(fx.st), 0, store_strerror);
    REQUIRE_RC(query_dump(ro, "SELECT count(*) AS n FROM samples", NULL, &text), 0,
               store_strerror);
    CHECK_STR(text, "n\n1025\n");
    free(text);

    /* Another writer can open the file beside the first. */
    {
        store_t *other;

        REQUIRE_RC(store_open(path, 0, &other, err, sizeof err), 0, store_strerror);
        store_close(&other);
    }
    store_close(&ro);
    store_close(&fx.st);
    free(path);
}

/* Snapshots of a task's heap profile: stored, replaced at the same cycle,
** loaded by task seq and cycle; the errors say what is missing. */
static void test_heap_profiles(void)
{
    char *path = tmp_path("profiles.db");
    char err[512];
    fixture_t fx = { 0 };
    store_profile_site_t sites[2] = {
        { "leak.payload", 10, 10240, 9, 9216 },
        { "leak.request", 10, 160, 1, 16 },
    };
    store_profile_t p = { .cycle = 3, .rate = 1, .sites = sites, .nsites = 2 }, got;

    REQUIRE_RC(store_open(path, 0, &fx.st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(fill_run(&fx, "t-prof", "fib"), 0, store_strerror);
    p.task_id = fx.task_id[1];
    REQUIRE_RC(store_profile_insert(fx.st, &p), 0, store_strerror);
    p.cycle = 7;
    sites[0].alloc_objects = 20;
    REQUIRE_RC(store_profile_insert(fx.st, &p), 0, store_strerror);
    p.final = 1;                                 /* the same cycle again, at the end */
    sites[0].inuse_objects = 19;
    REQUIRE_RC(store_profile_insert(fx.st, &p), 0, store_strerror);

    /* The only task with a profile; the last snapshot. */
    REQUIRE_RC(store_profile_load(fx.st, fx.run_id, -1, -1, &got), 0, store_strerror);
    CHECK_INT(got.task_id, fx.task_id[1]);
    CHECK_INT(got.seq, 1);
    CHECK_INT(got.cycle, 7);
    CHECK_INT(got.final, 1);
    CHECK_INT(got.rate, 1);
    REQUIRE(got.nsites == 2);
    CHECK_STR(got.sites[0].site, "leak.payload");
    CHECK_INT(got.sites[0].alloc_objects, 20);
    CHECK_INT(got.sites[0].inuse_objects, 19);
    CHECK_INT(got.sites[1].inuse_bytes, 16);
    store_profile_free(&got);

    /* The snapshots' cycles, oldest first. */
    int64_t *cycles, seq;
    size_t ncycles;
    REQUIRE_RC(store_profile_cycles(fx.st, fx.run_id, 1, &cycles, &ncycles, &seq), 0,
               store_strerror);
    CHECK(ncycles == 2 && cycles[0] == 3 && cycles[1] == 7 && seq == 1);
    free(cycles);
    CHECK_RC(store_profile_cycles(fx.st, fx.run_id, 0, &cycles, &ncycles, &seq),
             STORE_ENOTFOUND, store_strerror);
    CHECK(cycles == NULL && ncycles == 0);

    /* At a cycle: the last snapshot at or before it. */
    REQUIRE_RC(store_profile_load(fx.st, fx.run_id, 1, 5, &got), 0, store_strerror);
    CHECK_INT(got.cycle, 3);
    CHECK_INT(got.final, 0);
    CHECK_INT(got.sites[0].alloc_objects, 10);
    store_profile_free(&got);

    CHECK_RC(store_profile_load(fx.st, fx.run_id, 1, 2, &got), STORE_ENOTFOUND, store_strerror);
    CHECK_CONTAINS(store_errmsg(fx.st), "at or before GC cycle 2");
    CHECK(got.nsites == 0 && got.sites == NULL);
    CHECK_RC(store_profile_load(fx.st, fx.run_id, 0, -1, &got), STORE_ENOTFOUND, store_strerror);
    CHECK_CONTAINS(store_errmsg(fx.st), "task 0 of run");
    CHECK_RC(store_profile_load(fx.st, fx.run_id, 9, -1, &got), STORE_ENOTFOUND, store_strerror);
    CHECK_CONTAINS(store_errmsg(fx.st), "has no task 9");
    CHECK_RC(store_profile_load(fx.st, 999, -1, -1, &got), STORE_ENOTFOUND, store_strerror);
    CHECK_CONTAINS(store_errmsg(fx.st), "no run 999");

    /* Two tasks with profiles: the task must be named. */
    p.task_id = fx.task_id[0];
    REQUIRE_RC(store_profile_insert(fx.st, &p), 0, store_strerror);
    CHECK_RC(store_profile_load(fx.st, fx.run_id, -1, -1, &got), STORE_EUSAGE, store_strerror);
    CHECK_CONTAINS(store_errmsg(fx.st), "2 tasks with a heap profile");
    /* A task that does not exist is refused. */
    p.task_id = 999;
    CHECK_RC(store_profile_insert(fx.st, &p), STORE_EUSAGE, store_strerror);
    store_close(&fx.st);
    free(path);
}

/* Heap snapshots' analyses: stored with their sites, goroutine groups and
** pprof bytes, replaced at the same (cycle, final), loaded oldest first;
** deleting the run takes them along. */
static void test_retention(void)
{
    char *path = tmp_path("retention.db");
    char err[512];
    fixture_t fx = { 0 };
    store_retention_site_t sites[2] = {
        { .site = "leak.payload", .root_group = "goroutine leak.watcher [chan receive]",
          .root = "goroutine 7 leak.watcher [chan receive, 3 GC cycles]",
          .holder = "goroutine leak.watcher [chan receive]", .path = "goroutine 7\n-> leak.payload",
          .roots = 5, .objects = 5, .site_objects = 6, .retained_bytes = 5120,
          .holder_retained_bytes = 6000 },
        { .site = "t.b", .root_group = "globals", .root = "globals of process 1",
          .holder = "t.table", .path = "globals", .roots = 1, .objects = 1,
          .site_objects = 1, .retained_bytes = 8, .holder_retained_bytes = 80 },
    };
    store_goroutine_leak_t leaks[1] = {
        { .label = "leak.watcher", .reason = "chan receive", .count = 3, .min_cycles = 2,
          .max_cycles = 9 },
    };
    unsigned char pprof[4] = { 0x1f, 0x8b, 0, 1 };
    store_retention_t r = { .cycle = 9, .final = 0, .worker = "w", .objects = 100, .bytes = 4096,
                            .pause_ns = 777, .min_cycles = 2, .pprof = pprof,
                            .pprof_len = sizeof pprof, .sites = sites, .nsites = 2,
                            .leaks = leaks, .nleaks = 1 };
    store_retention_t *got;
    size_t n;

    REQUIRE_RC(store_open(path, 0, &fx.st, err, sizeof err), 0, store_strerror);
    REQUIRE_RC(fill_run(&fx, "t-ret", "fib"), 0, store_strerror);
    r.task_id = fx.task_id[1];
    REQUIRE_RC(store_retention_insert(fx.st, &r), 0, store_strerror);
    r.final = 1;
    r.nsites = 1;
    r.nleaks = 0;
    REQUIRE_RC(store_retention_insert(fx.st, &r), 0, store_strerror);
    r.objects = 101;                             /* the same snapshot again: replaced */
    REQUIRE_RC(store_retention_insert(fx.st, &r), 0, store_strerror);

    REQUIRE_RC(store_retention_load(fx.st, fx.run_id, 1, &got, &n), 0, store_strerror);
    REQUIRE(n == 2);
    CHECK(got[0].cycle == 9 && got[0].final == 0 && got[1].final == 1);
    CHECK_INT(got[0].objects, 100);
    CHECK_INT(got[1].objects, 101);
    CHECK_STR(got[0].worker, "w");
    CHECK(got[0].pprof_len == sizeof pprof && memcmp(got[0].pprof, pprof, sizeof pprof) == 0);
    REQUIRE(got[0].nsites == 2 && got[1].nsites == 1);
    CHECK_STR(got[0].sites[0].site, "leak.payload");   /* most retained first */
    CHECK_STR(got[0].sites[0].path, "goroutine 7\n-> leak.payload");
    CHECK_INT(got[0].sites[0].holder_retained_bytes, 6000);
    CHECK_STR(got[0].sites[1].holder, "t.table");
    REQUIRE(got[0].nleaks == 1);
    CHECK_INT(got[1].nleaks, 0);
    CHECK_STR(got[0].leaks[0].reason, "chan receive");
    CHECK_INT(got[0].leaks[0].max_cycles, 9);
    store_retention_free(got, n);

    REQUIRE_RC(store_retention_load(fx.st, fx.run_id, 0, &got, &n), 0, store_strerror);
    CHECK(n == 0 && got == NULL);
    CHECK_RC(store_retention_load(fx.st, fx.run_id, 9, &got, &n), STORE_ENOTFOUND, store_strerror);
    CHECK_CONTAINS(store_errmsg(fx.st), "has no task 9");
    r.task_id = 999;
    CHECK_RC(store_retention_insert(fx.st, &r), STORE_EUSAGE, store_strerror);
    store_close(&fx.st);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM retention_sites"), 3);
    CHECK(raw_exec(path, "PRAGMA foreign_keys = ON; DELETE FROM runs;") == SQLITE_OK);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM retention"), 0);
    free(path);
}

int main(int argc, char **argv)
{
    static const testrun_case_t tests[] = {
        { "heap_profiles", test_heap_profiles },
        { "retention", test_retention },
        { "schema_embedded", test_schema_embedded },
        { "gc_fields_schema", test_gc_fields_schema },
        { "gc_fields_roundtrip", test_gc_fields_roundtrip },
        { "create_open_reopen", test_create_open_reopen },
        { "concurrent_create", test_concurrent_create },
        { "newer_schema", test_newer_schema },
        { "not_sqlite", test_not_sqlite },
        { "foreign_sqlite", test_foreign_sqlite },
        { "migrate_every_version", test_migrate_every_version },
        { "migrate_refuses_foreign", test_migrate_refuses_foreign },
        { "liveness", test_liveness },
        { "write_errors", test_write_errors },
        { "runs_read", test_runs_read },
        { "run_read", test_run_read },
        { "run_read_points", test_run_read_points },
        { "run_read_hostile_rows", test_run_read_hostile_rows },
        { "sql", test_sql },
        { "sql_bounds", test_sql_bounds },
        { "read_model", test_read_model },
        { "read_while_writing", test_read_while_writing },
    };

    return testrun_main(argc, argv, tests, sizeof tests / sizeof tests[0], 120, NULL);
}
