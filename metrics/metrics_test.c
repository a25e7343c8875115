/*
** metrics/metrics_test.c -- the exposition format written and parsed back;
** the parser's refusals; the server over a real loopback socket: a scrape,
** 404/405/400/431, HEAD, a non-loopback address refused without leave,
** and publishing that a silent client does not hold up.
*/
#include "metrics/metrics.h"
#include "base/testrun.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static metrics_worker_t workers[2];

static metrics_snapshot_t snapshot(void)
{
    memset(workers, 0, sizeof workers);
    snprintf(workers[0].name, sizeof workers[0].name, "w\"1\\x");
    snprintf(workers[0].host, sizeof workers[0].host, "h1");
    workers[0].task_seq = 3;
    workers[0].has_sample = true;
    workers[0].heap_goal_bytes = 4194304;
    workers[0].heap_alloc_bytes = 1234567;
    workers[0].goroutines = 17;
    workers[0].gc_cycles = 5;
    workers[0].gc_forced = 1;
    workers[0].pause_total_ns = 2500000;
    /* pauses: 2 of 50 µs, 3 of 2 ms: cumulative per bound */
    const uint64_t le[METRICS_PAUSE_BUCKETS] = {0, 2, 2, 2, 5, 5, 5};
    memcpy(workers[0].pause_le, le, sizeof le);
    snprintf(workers[1].name, sizeof workers[1].name, "w2");
    snprintf(workers[1].host, sizeof workers[1].host, "h2");
    workers[1].task_seq = -1;      /* joined, no task, no sample yet */
    metrics_snapshot_t s = {
        .run_id = 42, .tasks = {4, 0, 1, 2, 1}, .workers_live = 2, .workers_joined = 3,
        .workers_lost = 1, .dropped_malformed = 7, .uptime_s = 1.5,
        .workers = workers, .nworkers = 2,
    };
    return s;
}

static const metrics_sample_t *find(const metrics_parsed_t *p, const char *name,
                                    const char *label, const char *value)
{
    for (size_t i = 0; i < p->nsamples; i++) {
        const metrics_sample_t *s = &p->samples[i];
        const char *v = label ? metrics_label(s, label) : NULL;
        if (strcmp(s->name, name) == 0 && (!label || (v && strcmp(v, value) == 0)))
            return s;
    }
    return NULL;
}

static void test_write_parse(void)
{
    metrics_snapshot_t s = snapshot();
    char *text = NULL, err[256];
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    REQUIRE(out);
    REQUIRE_RC(metrics_write(out, &s), 0, metrics_strerror);
    fclose(out);
    metrics_parsed_t p;
    REQUIRE_MSG(metrics_parse(text, len, &p, err, sizeof err) == 0, "%s\n%s", err, text);
    const metrics_sample_t *m = find(&p, "go_gc_heap_goal_bytes", "worker", "w\"1\\x");
    REQUIRE(m);
    CHECK(m->value == 4194304);
    CHECK_STR(metrics_label(m, "run"), "42");
    CHECK_STR(metrics_label(m, "host"), "h1");
    CHECK_STR(metrics_label(m, "task"), "3");
    CHECK(find(&p, "go_gc_heap_goal_bytes", "worker", "w2") == NULL);  /* no sample */
    m = find(&p, "go_gc_cycles_total_gc_cycles_total", "worker", "w2");
    REQUIRE(m);
    CHECK_STR(metrics_label(m, "task"), "");
    CHECK(m->value == 0);
    m = find(&p, "go_gc_cycles_automatic_gc_cycles_total", "worker", "w\"1\\x");
    CHECK(m && m->value == 4);
    m = find(&p, "heapsim_tasks", "state", "queued");
    CHECK(m && m->value == 4);
    m = find(&p, "heapsim_frames_dropped_total", "reason", "malformed");
    CHECK(m && m->value == 7);
    /* The histogram: buckets cumulative, +Inf equal to _count. */
    double prev = -1, inf = -1, count = -2;
    for (size_t i = 0; i < p.nsamples; i++) {
        const metrics_sample_t *b = &p.samples[i];
        const char *w = metrics_label(b, "worker");
        if (!w || strcmp(w, "w\"1\\x"))
            continue;
        if (strcmp(b->name, "go_gc_pauses_seconds_bucket") == 0) {
            CHECK_STR(b->family, "go_gc_pauses_seconds");
            CHECK(b->value >= prev);
            prev = b->value;
            if (strcmp(metrics_label(b, "le"), "+Inf") == 0)
                inf = b->value;
        } else if (strcmp(b->name, "go_gc_pauses_seconds_count") == 0) {
            count = b->value;
        } else if (strcmp(b->name, "go_gc_pauses_seconds_sum") == 0) {
            CHECK(fabs(b->value - 0.0025) < 1e-12);
        }
    }
    CHECK(inf == 5 && count == 5);
    m = find(&p, "go_gc_pauses_seconds_bucket", "le", "0.0001");
    CHECK(m && m->value == 2);
    /* Every family typed and documented once. */
    for (size_t i = 0; i < p.nfamilies; i++)
        CHECK_MSG(p.families[i].type && p.families[i].help, "%s", p.families[i].name);
    metrics_parsed_free(&p);
    free(text);
}

static void refuses(const char *text, const char *why)
{
    metrics_parsed_t p;
    char err[256] = "";
    CHECK_MSG(metrics_parse(text, strlen(text), &p, err, sizeof err) == METRICS_EPROTO,
              "accepted: %s", text);
    CHECK_CONTAINS(err, why);
}

static void test_parse_refusals(void)
{
    refuses("x 1\n", "before its family's # TYPE");
    refuses("# TYPE x gauge\nx 1\n", "before its family's # HELP");
    refuses("# HELP x h\n# TYPE x gauge\n# TYPE x counter\nx 1\n", "a second # TYPE");
    refuses("# HELP x h\n# TYPE x widget\n", "not a metric type");
    refuses("# HELP x h\n# TYPE x gauge\nx{a=\"1} 1\n", "not closed");
    refuses("# HELP x h\n# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n", "twice");
    refuses("# HELP x h\n# TYPE x gauge\nx one\n", "not a value");
    refuses("# HELP x h\n# TYPE x gauge\n9x 1\n", "valid metric name");
    refuses("# HELP x h\n# TYPE x gauge\nx-y 1\n", "a space and a value");
    refuses("# HELP x h\n# TYPE x gauge\nx 1", "no newline");
    refuses("# HELP h h\n# TYPE h gauge\nh_bucket{le=\"1\"} 1\n", "before its family");
    metrics_parsed_t p;
    char err[256];
    const char *ok = "# a comment\n# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\n"
                     "h_sum 0.5\nh_count 2 1700000000000\n# HELP g g\n# TYPE g gauge\ng NaN\n";
    REQUIRE_MSG(metrics_parse(ok, strlen(ok), &p, err, sizeof err) == 0, "%s", err);
    CHECK_INT(p.nsamples, 4);
    CHECK(isnan(p.samples[3].value));
    metrics_parsed_free(&p);
}

/* One raw request; the status code answered (0: none), the whole answer
** in buf. */
static int raw(const char *addr, const char *req, size_t reqlen, char *buf, size_t size)
{
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
    REQUIRE(fd >= 0);
    REQUIRE(connect(fd, (struct sockaddr *)&in, sizeof in) == 0);
    for (size_t off = 0; off < reqlen;) {
        ssize_t n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;        /* the server may answer and close before the rest */
        off += (size_t)n;
    }
    size_t len = 0;
    ssize_t n;
    while (len + 1 < size && (n = recv(fd, buf + len, size - 1 - len, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    sscanf(buf, "HTTP/1.1 %d", &status);
    return status;
}

static void test_server(void)
{
    metrics_server_t *srv;
    char err[512], buf[65536];
    REQUIRE_MSG(metrics_server_new("127.0.0.1:0", false, &srv, err, sizeof err) == 0, "%s", err);
    const char *addr = metrics_server_address(srv);
    CHECK(strncmp(addr, "127.0.0.1:", 10) == 0 && atoi(addr + 10) > 0);

    /* Before anything is published: an empty run, still the format. */
    char *body;
    size_t len;
    metrics_parsed_t p;
    REQUIRE_MSG(metrics_scrape(addr, 5000, &body, &len, err, sizeof err) == 0, "%s", err);
    REQUIRE_MSG(metrics_parse(body, len, &p, err, sizeof err) == 0, "%s", err);
    CHECK(find(&p, "heapsim_workers", "run", "0") != NULL);
    metrics_parsed_free(&p);
    free(body);

    metrics_snapshot_t s = snapshot();
    CHECK(metrics_server_publish(srv, &s, true));
    memset(workers, 0, sizeof workers);     /* the server has its own copy */
    REQUIRE_MSG(metrics_scrape(addr, 5000, &body, &len, err, sizeof err) == 0, "%s", err);
    REQUIRE_MSG(metrics_parse(body, len, &p, err, sizeof err) == 0, "%s", err);
    const metrics_sample_t *m = find(&p, "go_sched_goroutines_goroutines", "host", "h1");
    CHECK(m && m->value == 17);
    metrics_parsed_free(&p);
    free(body);

    const char *get = "GET /metrics HTTP/1.0\r\n\r\n";
    CHECK_INT(raw(addr, get, strlen(get), buf, sizeof buf), 200);
    CHECK_CONTAINS(buf, "Content-Type: text/plain; version=0.0.4");
    CHECK_CONTAINS(buf, "# TYPE go_gc_pauses_seconds histogram");
    const char *q = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_INT(raw(addr, q, strlen(q), buf, sizeof buf), 200);
    const char *head = "HEAD /metrics HTTP/1.1\r\n\r\n";
    CHECK_INT(raw(addr, head, strlen(head), buf, sizeof buf), 200);
    CHECK(strstr(buf, "\r\n\r\n") && strstr(buf, "\r\n\r\n")[4] == '\0');
    const char *root = "GET / HTTP/1.1\r\n\r\n";
    CHECK_INT(raw(addr, root, strlen(root), buf, sizeof buf), 404);
    const char *post = "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    CHECK_INT(raw(addr, post, strlen(post), buf, sizeof buf), 405);
    CHECK_CONTAINS(buf, "Allow: GET, HEAD");
    const char *junk = "HELLO\r\n\r\n";
    CHECK_INT(raw(addr, junk, strlen(junk), buf, sizeof buf), 400);
    const char *v2 = "GET /metrics HTTP/2.0\r\n\r\n";
    CHECK_INT(raw(addr, v2, strlen(v2), buf, sizeof buf), 400);
    char *big = malloc(3 * METRICS_REQUEST_MAX);
    REQUIRE(big);
    memset(big, 'a', 3 * METRICS_REQUEST_MAX);
    memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
    CHECK_INT(raw(addr, big, 3 * METRICS_REQUEST_MAX, buf, sizeof buf), 431);
    free(big);

    /* A client that connects and says nothing holds the server thread (up
    ** to its deadline), never the publisher. */
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(silent, (struct sockaddr *)&in, sizeof in) == 0);
    s = snapshot();
    int published = 0;
    for (int i = 0; i < 1000; i++)
        published += metrics_server_publish(srv, &s, false);
    CHECK_INT(published, 1000);
    uint64_t ok, refused;
    metrics_server_counts(srv, &ok, &refused);
    CHECK_UINT(ok, 5);
    CHECK_UINT(refused, 5);
    metrics_server_destroy(&srv);     /* with the silent client still there */
    CHECK(srv == NULL);
    close(silent);
}

static void test_addresses(void)
{
    metrics_server_t *srv = NULL;
    char err[512];
    CHECK_INT(metrics_server_new("0.0.0.0:0", false, &srv, err, sizeof err), METRICS_EUSAGE);
    CHECK_CONTAINS(err, "--insecure");
    CHECK(srv == NULL);
    CHECK_INT(metrics_server_new("127.0.0.1", false, &srv, err, sizeof err), METRICS_EUSAGE);
    CHECK_CONTAINS(err, "HOST:PORT");
    CHECK_INT(metrics_server_new("127.0.0.1:70000", false, &srv, err, sizeof err),
              METRICS_EUSAGE);
    CHECK_INT(metrics_server_new("0.0.0.0:0", true, &srv, err, sizeof err), 0);
    metrics_server_destroy(&srv);
    CHECK(metrics_addr_is_loopback("127.0.0.1:1"));
    CHECK(metrics_addr_is_loopback("[::1]:1"));
    CHECK(!metrics_addr_is_loopback("0.0.0.0:1"));
    CHECK(!metrics_addr_is_loopback("nonsense"));
    char *body;
    size_t len;
    CHECK_INT(metrics_scrape("127.0.0.1", 1000, &body, &len, err, sizeof err), METRICS_EUSAGE);
    /* A port nobody listens on: a free one, found by binding and closing. */
    REQUIRE(metrics_server_new("127.0.0.1:0", false, &srv, err, sizeof err) == 0);
    char addr[64];
    snprintf(addr, sizeof addr, "%s", metrics_server_address(srv));
    metrics_server_destroy(&srv);
    CHECK_INT(metrics_scrape(addr, 1000, &body, &len, err, sizeof err), METRICS_ESYS);
    CHECK_CONTAINS(err, "cannot connect");
}

int main(int argc, char **argv)
{
    static const testrun_case_t cases[] = {
        {"write_parse", test_write_parse},
        {"parse_refusals", test_parse_refusals},
        {"server", test_server},
        {"addresses", test_addresses},
    };
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60, NULL);
}
