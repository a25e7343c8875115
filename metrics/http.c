/*
** metrics/http.c -- the endpoint's HTTP: a server thread answering from
** the last published snapshot, and the scraping client.
**
** The server is one thread over a listening socket and a wake-up pipe
** (closed by destroy). It serves one connection at a time: it reads the
** request head (at most METRICS_REQUEST_MAX bytes, within
** REQUEST_DEADLINE_MS from the accept, so a slow or silent client costs
** the next scrape at most that), answers, and closes. The snapshot is
** guarded by a mutex that the server holds only to copy it, and that
** publish only ever tries: the coordinator's loop never waits on a
** client.
*/
#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_DEADLINE_MS 5000
#define SEND_DEADLINE_MS 10000
#define BODY_MAX (64u << 20)
#define LINGER_MS 1000
#define LINGER_MAX_BYTES (1u << 20)

struct metrics_server {
    int fd;
    int wake[2];                  /* destroy closes wake[1]: the thread ends */
    pthread_t thread;
    pthread_mutex_t mu;           /* guards snap and workers */
    metrics_snapshot_t snap;      /* snap.workers points into workers */
    metrics_worker_t *workers;
    size_t capworkers;
    char address[320];
    atomic_ullong ok, refused;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- Addresses ------------------------------------------------------------ */

/* Split "HOST:PORT" / "[V6]:PORT" into host and port. */
static int split_addr(const char *addr, char *host, size_t hsize, char *port, size_t psize)
{
    const char *colon;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return -1;
        hlen = (size_t)(close - addr - 1);
        if (hlen == 0 || hlen >= hsize)
            return -1;
        memcpy(host, addr + 1, hlen);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || strchr(addr, ':') != colon)
            return -1;
        hlen = (size_t)(colon - addr);
        if (hlen == 0 || hlen >= hsize)
            return -1;
        memcpy(host, addr, hlen);
    }
    host[hlen] = '\0';
    const char *p = colon + 1;
    if (!*p || strlen(p) >= psize || strlen(p) > 5)
        return -1;
    for (const char *c = p; *c; c++)
        if (*c < '0' || *c > '9')
            return -1;
    if (atol(p) > 65535)
        return -1;
    snprintf(port, psize, "%s", p);
    return 0;
}

static int resolve(const char *addr, bool passive, struct addrinfo **res, char *err,
                   size_t errsize)
{
    char host[256], port[16];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
    if (split_addr(addr, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errsize, "%s: expected HOST:PORT (127.0.0.1:9100, [::1]:9100)", addr);
        return METRICS_EUSAGE;
    }
    int rc = getaddrinfo(host, port, &hints, res);
    if (rc != 0) {
        snprintf(err, errsize, "%s: %s", addr, gai_strerror(rc));
        return METRICS_EUSAGE;
    }
    return 0;
}

static bool sockaddr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

bool metrics_addr_is_loopback(const char *addr)
{
    struct addrinfo *res;
    char err[256];
    if (resolve(addr, false, &res, err, sizeof err) != 0)
        return false;
    bool all = true;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        all = all && sockaddr_is_loopback(a->ai_addr);
    freeaddrinfo(res);
    return all;
}

static void name_of(const struct sockaddr *sa, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, size, "%s:%d", host, port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, size, "[%s]:%d", host, port);
    }
}

/* ---- Serving ----------------------------------------------------------------- */

/* Wait for fd to be ready for `events` until deadline (ms, monotonic), or
** the server's wake pipe; 1 ready, 0 timed out or told to stop. */
static int wait_fd(const metrics_server_t *srv, int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return 0;
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = srv->wake[0], .events = POLLIN}};
        int n = poll(p, 2, (int)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || p[1].revents)
            return 0;
        return 1;
    }
}

static void send_all(const metrics_server_t *srv, int fd, const char *buf, size_t len)
{
    uint64_t deadline = now_ms() + SEND_DEADLINE_MS;
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (!wait_fd(srv, fd, POLLOUT, deadline))
                return;
        } else {
            return;
        }
    }
}

static void answer(metrics_server_t *srv, int fd, int status, const char *reason,
                   const char *extra_headers, const char *body, size_t len, bool head_only,
                   const char *ctype)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, reason, ctype, len, extra_headers ? extra_headers : "");
    send_all(srv, fd, hdr, (size_t)n);
    if (!head_only && len)
        send_all(srv, fd, body, len);
    if (status == 200)
        atomic_fetch_add(&srv->ok, 1);
    else
        atomic_fetch_add(&srv->refused, 1);
}

static void refuse(metrics_server_t *srv, int fd, int status, const char *reason,
                   const char *extra)
{
    char body[128];
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason);
    answer(srv, fd, status, reason, extra, body, (size_t)n, false, "text/plain; charset=utf-8");
}

/* The exposition of the last snapshot, malloc'd. */
static char *render_snapshot(metrics_server_t *srv, size_t *len)
{
    metrics_snapshot_t snap;
    metrics_worker_t *copy = NULL;
    char *text = NULL;

    pthread_mutex_lock(&srv->mu);
    snap = srv->snap;
    if (snap.nworkers) {
        copy = malloc(snap.nworkers * sizeof *copy);
        if (copy)
            memcpy(copy, snap.workers, snap.nworkers * sizeof *copy);
        else
            snap.nworkers = 0;
    }
    pthread_mutex_unlock(&srv->mu);
    snap.workers = copy;
    FILE *out = open_memstream(&text, len);
    if (out) {
        int rc = metrics_write(out, &snap);
        if (fclose(out) != 0 || rc != 0) {
            free(text);
            text = NULL;
        }
    }
    free(copy);
    return text;
}

static void serve(metrics_server_t *srv, int fd)
{
    char req[METRICS_REQUEST_MAX + 1];
    size_t len = 0;
    uint64_t deadline = now_ms() + REQUEST_DEADLINE_MS;
    char *end = NULL;

    while (!end) {
        if (len == METRICS_REQUEST_MAX) {
            refuse(srv, fd, 431, "Request Header Fields Too Large", NULL);
            return;
        }
        ssize_t n = recv(fd, req + len, METRICS_REQUEST_MAX - len, MSG_DONTWAIT);
        if (n > 0) {
            len += (size_t)n;
            req[len] = '\0';
            if (memchr(req, '\0', len)) {
                refuse(srv, fd, 400, "Bad Request", NULL);
                return;
            }
            end = strstr(req, "\r\n\r\n");
            if (!end)
                end = strstr(req, "\n\n");
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (!wait_fd(srv, fd, POLLIN, deadline))
                return;              /* too slow, or stopping: no answer */
        } else {
            return;                  /* closed before a whole head */
        }
    }

    /* METHOD SP TARGET SP HTTP/1.x */
    char *eol = strpbrk(req, "\r\n");
    *eol = '\0';
    char *method = req, *sp1 = strchr(method, ' ');
    char *target = sp1 ? sp1 + 1 : NULL, *sp2 = target ? strchr(target, ' ') : NULL;
    char *version = sp2 ? sp2 + 1 : NULL;
    if (!sp1 || !sp2 || strchr(version, ' ') || strncmp(version, "HTTP/1.", 7) != 0 ||
        !(version[7] == '0' || version[7] == '1') || version[8] != '\0' || *target != '/') {
        refuse(srv, fd, 400, "Bad Request", NULL);
        return;
    }
    *sp1 = *sp2 = '\0';
    char *query = strchr(target, '?');
    if (query)
        *query = '\0';
    bool head = strcmp(method, "HEAD") == 0;
    if (strcmp(target, "/metrics") != 0) {
        refuse(srv, fd, 404, "Not Found", NULL);
        return;
    }
    if (!head && strcmp(method, "GET") != 0) {
        refuse(srv, fd, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
        return;
    }
    size_t blen = 0;
    char *body = render_snapshot(srv, &blen);
    if (!body) {
        refuse(srv, fd, 500, "Internal Server Error", NULL);
        return;
    }
    answer(srv, fd, 200, "OK", NULL, body, blen, head, "text/plain; version=0.0.4; charset=utf-8");
    free(body);
}

static void *server_main(void *arg)
{
    metrics_server_t *srv = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = srv->fd, .events = POLLIN},
                              {.fd = srv->wake[0], .events = POLLIN}};
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || p[1].revents)
            break;
        int fd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            continue;
        serve(srv, fd);
        /* A lingering close: our side shut, what the client still sends
        ** (a body we ignore, the rest of a refused head) is read and
        ** dropped until it closes, for a short while. Closing with unread
        ** input would reset the connection and could destroy the answer
        ** before the client read it. */
        shutdown(fd, SHUT_WR);
        uint64_t deadline = now_ms() + LINGER_MS;
        size_t drained = 0;
        char sink[4096];
        while (drained < LINGER_MAX_BYTES) {
            ssize_t k = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
            if (k > 0)
                drained += (size_t)k;
            else if (k == 0 || !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ||
                     !wait_fd(srv, fd, POLLIN, deadline))
                break;
        }
        close(fd);
    }
    return NULL;
}

int metrics_server_new(const char *addr, bool allow_remote, metrics_server_t **server_p,
                       char *err, size_t errsize)
{
    struct addrinfo *res;
    int rc, one = 1;

    *server_p = NULL;
    if ((rc = resolve(addr, true, &res, err, errsize)) != 0)
        return rc;
    if (!allow_remote && !sockaddr_is_loopback(res->ai_addr)) {
        snprintf(err, errsize, "%s is reachable from other hosts and the metrics endpoint has"
                 " no authentication: bind loopback (127.0.0.1:PORT), or give --insecure",
                 addr);
        freeaddrinfo(res);
        return METRICS_EUSAGE;
    }
    metrics_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) {
        freeaddrinfo(res);
        snprintf(err, errsize, "out of memory");
        return METRICS_ENOMEM;
    }
    srv->wake[0] = srv->wake[1] = -1;
    srv->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (srv->fd < 0)
        goto out_sys;
    setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(srv->fd, res->ai_addr, res->ai_addrlen) != 0 || listen(srv->fd, 16) != 0)
        goto out_sys;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(srv->fd, (struct sockaddr *)&ss, &sl) != 0)
        goto out_sys;
    name_of((struct sockaddr *)&ss, srv->address, sizeof srv->address);
    if (pipe2(srv->wake, O_CLOEXEC) != 0)
        goto out_sys;
    pthread_mutex_init(&srv->mu, NULL);
    if ((rc = pthread_create(&srv->thread, NULL, server_main, srv)) != 0) {
        errno = rc;
        pthread_mutex_destroy(&srv->mu);
        goto out_sys;
    }
    freeaddrinfo(res);
    *server_p = srv;
    return 0;

out_sys:
    snprintf(err, errsize, "cannot serve metrics on %s: %s", addr, strerror(errno));
    if (srv->fd >= 0)
        close(srv->fd);
    if (srv->wake[0] >= 0) {
        close(srv->wake[0]);
        close(srv->wake[1]);
    }
    free(srv);
    freeaddrinfo(res);
    return METRICS_ESYS;
}

void metrics_server_destroy(metrics_server_t **server_p)
{
    metrics_server_t *srv = server_p ? *server_p : NULL;
    if (!srv)
        return;
    close(srv->wake[1]);
    pthread_join(srv->thread, NULL);
    close(srv->wake[0]);
    close(srv->fd);
    pthread_mutex_destroy(&srv->mu);
    free(srv->workers);
    free(srv);
    *server_p = NULL;
}

const char *metrics_server_address(const metrics_server_t *srv)
{
    return srv->address;
}

bool metrics_server_publish(metrics_server_t *srv, const metrics_snapshot_t *s, bool wait)
{
    if (wait)
        pthread_mutex_lock(&srv->mu);
    else if (pthread_mutex_trylock(&srv->mu) != 0)
        return false;
    bool ok = true;
    if (s->nworkers > srv->capworkers) {
        metrics_worker_t *w = realloc(srv->workers, s->nworkers * sizeof *w);
        if (w) {
            srv->workers = w;
            srv->capworkers = s->nworkers;
        } else {
            ok = false;
        }
    }
    if (ok) {
        srv->snap = *s;
        if (s->nworkers)
            memcpy(srv->workers, s->workers, s->nworkers * sizeof *srv->workers);
        srv->snap.workers = srv->workers;
    }
    pthread_mutex_unlock(&srv->mu);
    return ok;
}

void metrics_server_counts(metrics_server_t *srv, uint64_t *ok, uint64_t *refused)
{
    *ok = atomic_load(&srv->ok);
    *refused = atomic_load(&srv->refused);
}

/* ---- Scraping ------------------------------------------------------------------ */

static int wait_plain(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;
    while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    return n;
}

int metrics_scrape(const char *addr, int timeout_ms, char **body_p, size_t *len_p, char *err,
                   size_t errsize)
{
    struct addrinfo *res;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc, fd = -1;

    *body_p = NULL;
    *len_p = 0;
    if ((rc = resolve(addr, false, &res, err, errsize)) != 0)
        return rc;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errsize, "%s: %s", addr, strerror(errno));
        freeaddrinfo(res);
        return METRICS_ESYS;
    }
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
        snprintf(err, errsize, "cannot connect to %s: %s", addr, strerror(errno));
        rc = METRICS_ESYS;
        goto out;
    }
    freeaddrinfo(res);
    res = NULL;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (wait_plain(fd, POLLOUT, timeout_ms) <= 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
        snprintf(err, errsize, "cannot connect to %s: %s", addr,
                 soerr ? strerror(soerr) : "timed out");
        rc = METRICS_ESYS;
        goto out;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /metrics HTTP/1.1\r\nHost: %s\r\nAccept: text/plain;version=0.0.4\r\n"
                     "User-Agent: heapsim\r\nConnection: close\r\n\r\n", addr);
    for (int off = 0; off < n;) {
        ssize_t k = send(fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (k > 0) {
            off += (int)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_plain(fd, POLLOUT, timeout_ms) <= 0) {
                snprintf(err, errsize, "%s: sending the request timed out", addr);
                rc = METRICS_ESYS;
                goto out;
            }
        } else {
            snprintf(err, errsize, "%s: %s", addr, strerror(errno));
            rc = METRICS_ESYS;
            goto out;
        }
    }
    for (;;) {
        if (cap - len < 65536) {
            if (cap > BODY_MAX) {
                snprintf(err, errsize, "%s: the answer exceeds 64 MiB", addr);
                rc = METRICS_EPROTO;
                goto out;
            }
            cap = cap ? cap * 2 : 131072;
            char *b = realloc(buf, cap + 1);
            if (!b) {
                snprintf(err, errsize, "out of memory");
                rc = METRICS_ENOMEM;
                goto out;
            }
            buf = b;
        }
        ssize_t k = recv(fd, buf + len, cap - len, 0);
        if (k > 0) {
            len += (size_t)k;
        } else if (k == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_plain(fd, POLLIN, timeout_ms) <= 0) {
                snprintf(err, errsize, "%s: no answer within %d ms", addr, timeout_ms);
                rc = METRICS_ESYS;
                goto out;
            }
        } else {
            snprintf(err, errsize, "%s: %s", addr, strerror(errno));
            rc = METRICS_ESYS;
            goto out;
        }
    }
    if (!buf) {
        snprintf(err, errsize, "%s: closed without an answer", addr);
        rc = METRICS_EPROTO;
        goto out;
    }
    buf[len] = '\0';
    int status = 0;
    char *hend = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1 || !hend) {
        snprintf(err, errsize, "%s: not an HTTP answer", addr);
        rc = METRICS_EPROTO;
        goto out;
    }
    if (status != 200) {
        char *eol = strstr(buf, "\r\n");
        snprintf(err, errsize, "%s: the server answered '%.*s'", addr, (int)(eol - buf), buf);
        rc = METRICS_EPROTO;
        goto out;
    }
    *hend = '\0';
    if (strcasestr(buf, "\r\ntransfer-encoding:")) {
        snprintf(err, errsize, "%s: a chunked answer (not supported)", addr);
        rc = METRICS_EPROTO;
        goto out;
    }
    size_t off = (size_t)(hend + 4 - buf);
    memmove(buf, buf + off, len - off + 1);
    *body_p = buf;
    *len_p = len - off;
    buf = NULL;
    rc = 0;
out:
    if (res)
        freeaddrinfo(res);
    free(buf);
    close(fd);
    return rc;
}
