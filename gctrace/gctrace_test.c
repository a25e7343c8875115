/*
** gctrace/gctrace_test.c -- every line gctrace_format() writes follows Go's
** documented format field by field, as Go 1.19's own lines do
** (testdata/go1.19.txt), and each field says what the figures say.
*/
#include "gctrace/gctrace.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/splitmix64.h"
#include "base/testrun.h"

/* ---- A parser of the line, from extern.go's format ------------------ */

/* A duration as fmtNSAsMS writes it: its value in microseconds and its
** last digit's weight in microseconds (the value is truncated to it). */
typedef struct ms_field {
    uint64_t us, step_us;
} ms_field_t;

typedef struct line {
    uint64_t gc, at_ms, pct;
    ms_field_t clock[3], cpu[5];
    uint64_t mb_start, mb_end, mb_live, mb_goal, mb_stacks, mb_globals, procs;
    bool forced;
} line_t;

static bool lit(const char **p, const char *s)
{
    size_t n = strlen(s);
    if (strncmp(*p, s, n) != 0)
        return false;
    *p += n;
    return true;
}

/* A decimal integer without a sign or leading zeros ("0" alone). */
static bool uint_tok(const char **p, uint64_t *v)
{
    const char *s = *p;
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
        return false;
    *v = 0;
    while (*s >= '0' && *s <= '9')
        *v = *v * 10 + (uint64_t)(*s++ - '0');
    *p = s;
    return true;
}

/* fmtNSAsMS: "0"; whole ms >= 10; "0.001".."0.099" (three decimals);
** "0.10".."0.99"; "1.0".."9.9". */
static bool ms_tok(const char **p, ms_field_t *f)
{
    const char *s = *p;
    uint64_t whole, frac = 0;
    int dec = 0;
    if (!uint_tok(&s, &whole))
        return false;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            frac = frac * 10 + (uint64_t)(*s++ - '0');
            dec++;
        }
    }
    if (dec == 0) {
        if (whole != 0 && whole < 10)
            return false;
        f->us = whole * 1000;
        f->step_us = whole ? 1000 : 1;
    } else if (dec == 3) {
        if (whole != 0 || frac < 1 || frac > 99)
            return false;
        f->us = frac;
        f->step_us = 1;
    } else if (dec == 2) {
        if (whole != 0 || frac < 10)
            return false;
        f->us = frac * 10;
        f->step_us = 10;
    } else if (dec == 1) {
        if (whole < 1 || whole > 9)
            return false;
        f->us = whole * 1000 + frac * 100;
        f->step_us = 100;
    } else {
        return false;
    }
    *p = s;
    return true;
}

/* Parse a whole line; false at the first field out of the format. */
static bool parse_line(const char *s, line_t *l)
{
    uint64_t secs, millis;
    const char *frac;
    memset(l, 0, sizeof *l);
    if (!lit(&s, "gc ") || !uint_tok(&s, &l->gc) || !lit(&s, " @") ||
        !uint_tok(&s, &secs) || !lit(&s, "."))
        return false;
    frac = s;
    if (!(frac[0] >= '0' && frac[0] <= '9' && frac[1] >= '0' && frac[1] <= '9' &&
          frac[2] >= '0' && frac[2] <= '9'))
        return false;
    millis = (uint64_t)((frac[0] - '0') * 100 + (frac[1] - '0') * 10 + (frac[2] - '0'));
    s += 3;
    l->at_ms = secs * 1000 + millis;
    if (!lit(&s, "s ") || !uint_tok(&s, &l->pct) || !lit(&s, "%: "))
        return false;
    for (int i = 0; i < 3; i++)
        if ((i && !lit(&s, "+")) || !ms_tok(&s, &l->clock[i]))
            return false;
    if (!lit(&s, " ms clock, "))
        return false;
    static const char *const sep[5] = { "", "+", "/", "/", "+" };
    for (int i = 0; i < 5; i++)
        if (!lit(&s, sep[i]) || !ms_tok(&s, &l->cpu[i]))
            return false;
    if (!lit(&s, " ms cpu, ") || !uint_tok(&s, &l->mb_start) || !lit(&s, "->") ||
        !uint_tok(&s, &l->mb_end) || !lit(&s, "->") || !uint_tok(&s, &l->mb_live) ||
        !lit(&s, " MB, ") || !uint_tok(&s, &l->mb_goal) || !lit(&s, " MB goal, ") ||
        !uint_tok(&s, &l->mb_stacks) || !lit(&s, " MB stacks, ") ||
        !uint_tok(&s, &l->mb_globals) || !lit(&s, " MB globals, ") ||
        !uint_tok(&s, &l->procs) || !lit(&s, " P"))
        return false;
    l->forced = lit(&s, " (forced)");
    return *s == '\0';
}

/* Does ms field m say ns, truncated to its precision? */
static bool ms_says(const ms_field_t *m, uint64_t ns)
{
    uint64_t us = ns / 1000;
    return m->us <= us && us < m->us + m->step_us;
}

/* ---- Cases --------------------------------------------------------- */

static void test_go_lines_parse(void)
{
    char path[4096], buf[512];
    const char *dir = getenv("TEST_SRCDIR"), *ws = getenv("TEST_WORKSPACE");
    snprintf(path, sizeof path, "%s/%s/gctrace/testdata/go1.19.txt", dir ? dir : ".",
             ws ? ws : "");
    FILE *fp = fopen(path, "r");
    REQUIRE_MSG(fp != NULL, "cannot open %s", path);
    int n = 0, forced = 0;
    while (fgets(buf, sizeof buf, fp)) {
        buf[strcspn(buf, "\n")] = '\0';
        line_t l;
        CHECK_MSG(parse_line(buf, &l), "Go's own line out of the grammar: %s", buf);
        forced += l.forced;
        n++;
    }
    fclose(fp);
    CHECK_INT(n, 6);
    CHECK_INT(forced, 3);
}

/* One known cycle, written out by hand from mgc.go's rules. */
static void test_known_line(void)
{
    gc_fields_t f = {
        .cycle = 12, .forced = 0, .nprocs = 2,
        .since_start_ns = 1185400000, .gc_cpu_fraction = 0.3199,
        .stw_ns = 10027000, .stop_ns = 21000, .mark_ns = 10000000,
        .mark_cpu_ns = 9876543,
        .heap_start_bytes = (4 << 20) + 12345, .heap_end_bytes = 3 << 20,
        .heap_live_bytes = (2 << 20) + 1, .heap_goal_bytes = (5 << 20) - 1,
        .stack_bytes = 3 << 20, .max_stack_bytes = (7 << 20) + 4096,
        .globals_bytes = 1 << 19,
    };
    char buf[GCTRACE_LINE_MAX];
    int n = gctrace_format(&f, buf, sizeof buf);
    /* MB stacks is the stack space in use (maxStackScan), not the 3 MB
    ** scanned (lastStackScan), as mgc.go prints it. */
    CHECK_STR(buf, "gc 12 @1.185s 31%: 0.021+10+0.006 ms clock, 0.042+0/9.8/0+0.012 ms cpu, "
                   "4->4->2 MB, 4 MB goal, 7 MB stacks, 0 MB globals, 2 P");
    CHECK_INT(n, (int)strlen(buf));
    f.forced = 1;
    gctrace_format(&f, buf, sizeof buf);
    CHECK(strlen(buf) > 9 && strcmp(buf + strlen(buf) - 9, " (forced)") == 0);
}

/* A concurrent cycle: Go's phases and heap figures one to one. */
static void test_known_concurrent_line(void)
{
    gc_fields_t f = {
        .cycle = 7, .nprocs = 2, .concurrent = 1,
        .since_start_ns = 512000000, .gc_cpu_fraction = 0.04,
        .sweep_term_ns = 12000, .mark_ns = 1200000, .mark_term_ns = 24000,
        .stw_ns = 36000, .stop_ns = 5000,
        .mark_assist_cpu_ns = 300000, .mark_bg_cpu_ns = 1100000, .mark_idle_cpu_ns = 2000000,
        .heap_start_bytes = 9 << 20, .heap_end_bytes = 9 << 20,
        .heap_live_start_bytes = 4 << 20, .heap_live_end_bytes = (5 << 20) + 7,
        .heap_live_bytes = 2 << 20, .heap_goal_bytes = 5 << 20,
    };
    char buf[GCTRACE_LINE_MAX];
    gctrace_format(&f, buf, sizeof buf);
    CHECK_STR(buf, "gc 7 @0.512s 4%: 0.012+1.2+0.024 ms clock, 0.024+0.30/1.1/2.0+0.048 ms cpu, "
                   "4->5->2 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P");
}

static void test_format_ms(void)
{
    static const struct { int64_t ns; const char *text; } cases[] = {
        { 0, "0" }, { 999, "0" }, { 1000, "0.001" }, { 6500, "0.006" },
        { 99999, "0.099" }, { 100000, "0.10" }, { 305000, "0.30" },
        { 999999, "0.99" }, { 1000000, "1.0" }, { 8400000, "8.4" },
        { 9999999, "9.9" }, { 10000000, "10" }, { 37500000, "37" },
        { 123456789012, "123456" }, { -5, "0" },
    };
    char buf[24];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(gctrace_format_ms(cases[i].ns, buf, sizeof buf), cases[i].text);
}

/* Random figures: every line parses, and each field says its figure. */
static void test_random_lines_field_by_field(void)
{
    uint64_t rng = 14;
    for (int i = 0; i < 20000; i++) {
        gc_fields_t f;
        memset(&f, 0, sizeof f);
        int scale = (int)(splitmix64_next(&rng) % 40);
        uint64_t span = scale ? 1ull << scale : 1;
        f.cycle = 1 + (int64_t)(splitmix64_next(&rng) % 1000000);
        f.forced = (int64_t)(splitmix64_next(&rng) & 1);
        f.nprocs = 1 + (int64_t)(splitmix64_next(&rng) % 256);
        f.since_start_ns = (int64_t)(splitmix64_next(&rng) % (span * 1000));
        f.gc_cpu_fraction = (double)(splitmix64_next(&rng) % 1001) / 1000.0;
        f.stop_ns = (int64_t)(splitmix64_next(&rng) % span);
        f.mark_ns = (int64_t)(splitmix64_next(&rng) % span);
        f.stw_ns = f.stop_ns + f.mark_ns + (int64_t)(splitmix64_next(&rng) % span);
        f.mark_cpu_ns = (int64_t)(splitmix64_next(&rng) % span);
        f.heap_start_bytes = (int64_t)(splitmix64_next(&rng) % (span << 10));
        f.heap_live_bytes = (int64_t)(splitmix64_next(&rng) % (span << 10));
        f.heap_goal_bytes = (int64_t)(splitmix64_next(&rng) % (span << 10));
        f.stack_bytes = (int64_t)(splitmix64_next(&rng) % (span << 10));
        f.max_stack_bytes = (int64_t)(splitmix64_next(&rng) % (span << 10));
        f.globals_bytes = (int64_t)(splitmix64_next(&rng) % (span << 10));

        char buf[GCTRACE_LINE_MAX];
        int n = gctrace_format(&f, buf, sizeof buf);
        REQUIRE(n > 0 && n < (int)sizeof buf);
        line_t l;
        REQUIRE_MSG(parse_line(buf, &l), "out of Go's format: %s", buf);
        uint64_t procs = (uint64_t)f.nprocs;
        uint64_t term = (uint64_t)(f.stw_ns - f.stop_ns - f.mark_ns);
        CHECK_UINT(l.gc, (uint64_t)f.cycle);
        CHECK_UINT(l.at_ms, (uint64_t)f.since_start_ns / 1000000);
        CHECK_UINT(l.pct, (uint64_t)(f.gc_cpu_fraction * 100));
        CHECK_MSG(ms_says(&l.clock[0], (uint64_t)f.stop_ns), "sweep term clock: %s", buf);
        CHECK_MSG(ms_says(&l.clock[1], (uint64_t)f.mark_ns), "mark clock: %s", buf);
        CHECK_MSG(ms_says(&l.clock[2], term), "mark term clock: %s", buf);
        CHECK_MSG(ms_says(&l.cpu[0], (uint64_t)f.stop_ns * procs), "sweep term cpu: %s", buf);
        CHECK_MSG(l.cpu[1].us == 0 && l.cpu[3].us == 0, "assist, idle: %s", buf);
        CHECK_MSG(ms_says(&l.cpu[2], (uint64_t)f.mark_cpu_ns), "background cpu: %s", buf);
        CHECK_MSG(ms_says(&l.cpu[4], term * procs), "mark term cpu: %s", buf);
        CHECK_UINT(l.mb_start, (uint64_t)f.heap_start_bytes >> 20);
        CHECK_UINT(l.mb_end, (uint64_t)f.heap_start_bytes >> 20);
        CHECK_UINT(l.mb_live, (uint64_t)f.heap_live_bytes >> 20);
        CHECK_UINT(l.mb_goal, (uint64_t)f.heap_goal_bytes >> 20);
        CHECK_UINT(l.mb_stacks, (uint64_t)f.max_stack_bytes >> 20);
        CHECK_UINT(l.mb_globals, (uint64_t)f.globals_bytes >> 20);
        CHECK_UINT(l.procs, procs);
        CHECK(l.forced == (f.forced != 0));
        if (testrun_failures())
            return;
    }
}

/* A short buffer: cut, NUL-terminated, the full length returned. */
static void test_short_buffer(void)
{
    gc_fields_t f = { .cycle = 1, .nprocs = 1 };
    char full[GCTRACE_LINE_MAX], cut[10];
    int n = gctrace_format(&f, full, sizeof full);
    CHECK_INT(gctrace_format(&f, cut, sizeof cut), n);
    CHECK_INT(strlen(cut), sizeof cut - 1);
    CHECK(strncmp(cut, full, sizeof cut - 1) == 0);
}

static const testrun_case_t cases[] = {
    { "go_lines_parse", test_go_lines_parse },
    { "known_line", test_known_line },
    { "known_concurrent_line", test_known_concurrent_line },
    { "format_ms", test_format_ms },
    { "random_lines_field_by_field", test_random_lines_field_by_field },
    { "short_buffer", test_short_buffer },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60, NULL);
}
