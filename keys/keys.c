/*
** keys/keys.c -- CURVE certificates and the ZAP handler (see keys.h).
*/
#include "keys/keys.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct keys_auth {
    zactor_t *zap;
    zcert_t *cert;
};

static int path_of(char *buf, size_t size, const char *dir, const char *file)
{
    return snprintf(buf, size, "%s/%s", dir, file) < (int)size ? 0 : -1;
}

static int make_pair(const char *dir, const char *name, char *err, size_t errsize)
{
    char path[4096], secret[4200];
    if (path_of(path, sizeof path, dir, name) != 0)
        goto out_long;
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (access(secret, F_OK) == 0)
        return 0;
    zcert_t *cert = zcert_new();
    if (!cert) {
        snprintf(err, errsize, "cannot make a key pair");
        return -1;
    }
    zcert_set_meta(cert, "role", "%s", name);
    int rc = zcert_save(cert, path);
    zcert_destroy(&cert);
    if (rc != 0) {
        snprintf(err, errsize, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    chmod(secret, 0600);
    return 0;
out_long:
    snprintf(err, errsize, "%s: path too long", dir);
    return -1;
}

int keys_generate(const char *dir, char *err, size_t errsize)
{
    char workers[4096], from[4096], to[4200];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errsize, "cannot make %s: %s", dir, strerror(errno));
        return -1;
    }
    if (make_pair(dir, "coordinator.cert", err, errsize) != 0 ||
        make_pair(dir, "worker.cert", err, errsize) != 0)
        return -1;
    if (path_of(workers, sizeof workers, dir, "workers") != 0 ||
        (mkdir(workers, 0700) != 0 && errno != EEXIST)) {
        snprintf(err, errsize, "cannot make %s/workers: %s", dir, strerror(errno));
        return -1;
    }
    path_of(from, sizeof from, dir, "worker.cert");
    snprintf(to, sizeof to, "%s/worker.cert", workers);
    zcert_t *cert = zcert_load(from);
    if (!cert || zcert_save_public(cert, to) != 0) {
        snprintf(err, errsize, "cannot copy %s to %s", from, to);
        zcert_destroy(&cert);
        return -1;
    }
    zcert_destroy(&cert);
    return 0;
}

static zcert_t *load(const char *dir, const char *file, char *err, size_t errsize)
{
    char path[4096];
    path_of(path, sizeof path, dir, file);
    zcert_t *cert = zcert_load(path);
    if (!cert)
        snprintf(err, errsize, "cannot read the key %s (heapsim keygen %s makes it)", path,
                 dir);
    return cert;
}

int keys_auth_start(const char *dir, keys_auth_t **auth_p, void **zctx_p, char *err,
                    size_t errsize)
{
    char workers[4096];
    *auth_p = NULL;
    keys_auth_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    if (!(a->cert = load(dir, "coordinator.cert_secret", err, errsize)))
        goto out_free;
    path_of(workers, sizeof workers, dir, "workers");
    if (access(workers, R_OK | X_OK) != 0) {
        snprintf(err, errsize, "no allow-list of worker keys at %s", workers);
        goto out_free;
    }
    /* CZMQ must not take over SIGINT/SIGTERM: the coordinator handles them. */
    zsys_handler_set(NULL);
    void *ctx = zsys_init();
    if (!ctx) {
        snprintf(err, errsize, "cannot start CZMQ");
        goto out_free;
    }
    a->zap = zactor_new(zauth, NULL);
    if (!a->zap) {
        snprintf(err, errsize, "cannot start the ZAP handler");
        goto out_free;
    }
    if (getenv("HEAPSIM_ZAP_VERBOSE")) {
        zstr_sendx(a->zap, "VERBOSE", NULL);
        zsock_wait(a->zap);
    }
    zstr_sendx(a->zap, "CURVE", workers, NULL);
    zsock_wait(a->zap);
    *zctx_p = ctx;
    *auth_p = a;
    return 0;

out_free:
    zcert_destroy(&a->cert);
    free(a);
    return -1;
}

int keys_server_apply(keys_auth_t *a, void *sock, char *err, size_t errsize)
{
    int one = 1;
    const char *domain = "heapsim";
    if (zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(a->cert), 32) != 0) {
        snprintf(err, errsize, "cannot make a CURVE server: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

void keys_auth_stop(keys_auth_t **auth_p)
{
    keys_auth_t *a = auth_p ? *auth_p : NULL;
    if (!a)
        return;
    zactor_destroy(&a->zap);
    zcert_destroy(&a->cert);
    free(a);
    *auth_p = NULL;
}

int keys_client_apply(const char *dir, void *sock, char *err, size_t errsize)
{
    zcert_t *mine = load(dir, "worker.cert_secret", err, errsize);
    if (!mine)
        return -1;
    zcert_t *server = load(dir, "coordinator.cert", err, errsize);
    if (!server) {
        zcert_destroy(&mine);
        return -1;
    }
    int rc = 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, zcert_public_key(server), 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, zcert_public_key(mine), 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(mine), 32) != 0) {
        snprintf(err, errsize, "cannot make a CURVE client: %s", zmq_strerror(errno));
        rc = -1;
    }
    zcert_destroy(&mine);
    zcert_destroy(&server);
    return rc;
}

int keys_endpoint_is_local(const char *ep)
{
    static const char *const local[] = {
        "ipc://", "inproc://", "tcp://127.", "tcp://localhost:", "tcp://[::1]:", "tcp://lo:",
        NULL,
    };
    for (int i = 0; local[i]; i++)
        if (strncmp(ep, local[i], strlen(local[i])) == 0)
            return 1;
    return 0;
}
