/*
** proto/proto_fuzz_test.c -- the decoder fuzzer's checks under the normal
** toolchain, so CI runs them: the seed frames (accepted, round trip), every
** prefix of each (refused: truncated), each with a byte more (refused:
** trailing bytes), each with every byte flipped (decoded or refused, never
** a crash), crafted bad frames (refused, with the reason named), and the
** corpus kept in proto/testdata/fuzz/ (ok-* accepted, bad-* refused, any
** other file -- an input the fuzzer once found -- replayed).
**
** `proto_fuzz_test --write-seeds DIR` writes the seed frames as ok-NAME
** files (tests/fuzz_proto.sh seeds the fuzzer with them).
*/
#include "proto/proto_fuzz.h"
#include "proto/proto.h"
#include "base/testrun.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_seeds(void)
{
    size_t n = proto_fuzz_nseeds();
    CHECK(n > 13);
    for (size_t i = 0; i < n; i++) {
        char *buf;
        size_t len;
        const char *name;
        REQUIRE_INT(proto_fuzz_seed(i, &buf, &len, &name), 0);
        CHECK_MSG(proto_fuzz_one((const uint8_t *)buf, len) == 1, "seed %s refused", name);
        /* Truncated anywhere: refused. */
        for (size_t cut = 0; cut < len; cut++)
            CHECK_MSG(proto_fuzz_one((const uint8_t *)buf, cut) == 0,
                      "seed %s cut to %zu of %zu bytes accepted", name, cut, len);
        /* A byte too many: refused. */
        char *longer = malloc(len + 1);
        REQUIRE(longer != NULL);
        memcpy(longer, buf, len);
        longer[len] = 0;
        CHECK_MSG(proto_fuzz_one((const uint8_t *)longer, len + 1) == 0,
                  "seed %s with a trailing byte accepted", name);
        /* Every byte flipped in turn: whatever it decodes to, the checks of
        ** proto_fuzz_one hold. */
        memcpy(longer, buf, len);
        for (size_t k = 0; k < len; k++) {
            longer[k] = (char)~longer[k];
            proto_fuzz_one((const uint8_t *)longer, len);
            longer[k] = (char)~longer[k];
        }
        free(longer);
        free(buf);
    }
    char *buf;
    size_t len;
    const char *name;
    CHECK_INT(proto_fuzz_seed(n, &buf, &len, &name), -EINVAL);
}

/* Frames made by hand, each refused for the reason named. */
static void test_crafted(void)
{
#define F(bytes, why) {bytes, sizeof bytes - 1, why}
    static const struct {
        const char *bytes;
        size_t len;
        const char *why;
    } bad[] = {
        F("", ""),
        F("\xc0", ""),                                            /* nil, not a map */
        F("\x90", ""),                                            /* an array */
        F("\x80", "'t'"),                                         /* no type */
        F("\x82\xa1t\xa4nope\xa1v\x02", "unknown message type"),
        F("\x82\xa1t\xa4" "done\xa1v\x01", "protocol version 1"),
        F("\x82\xa1t\xa4" "done\xa1v\xcf\xff\xff\xff\xff\xff\xff\xff\xff", "'v'"),
        F("\x81\xa1t\xa4" "done", "'v'"),                          /* no version */
        F("\x82\xa1t\xa4" "done\xa1v\x02\x00", ""),                /* trailing byte */
        F("\xdf\xff\xff\xff\xff", ""),                             /* 4G entries, no bytes */
        F("\x81\xa1t\xdb\xff\xff\xff\xff", ""),                    /* a 4 GiB string */
        F("\x83\xa1t\xa4" "done\xa1v\x02\xa1x"
          "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
          "\xc0", ""),                                             /* nested 20 deep */
        F("\x86\xa1t\xa5hello\xa1v\x02\xa6worker\xa3" "a\x00" "b\xa4host\xa1h"
          "\xa3pid\x01\xa4ncpu\x01", "worker"),                    /* a NUL in a name */
        F("\x84\xa1t\xa9heartbeat\xa1v\x02\xa7task_id\xa1x\xa7" "attempt\x01", "task_id"),
        F("\x84\xa1t\xa3" "ack\xa1v\x02\xa7task_id\xff\xa7" "attempt\x01", "negative"),
        F("\x85\xa1t\xa7welcome\xa1v\x02\xa6worker\xa1w\xabhearbeat_ms\x0a"
          "\xa6misses\x03", "heartbeat_ms"),                       /* a key misspelt */
        F("\x85\xa1t\xa7welcome\xa1v\x02\xa6worker\xa1w\xacheartbeat_ms"
          "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\xa6misses\x03", "heartbeat_ms"),  /* 1.5 */
        F("\x85\xa1t\xa7welcome\xa1v\x02\xa6worker\xa1w\xacheartbeat_ms\x00"
          "\xa6misses\x03", "heartbeat_ms"),                       /* 0: out of range */
        F("\x86\xa1t\xa6reject\xa1v\x02\xa7task_id\x01\xa7" "attempt\x01\xa6reason\xa1r"
          "\xabinterrupted\x05", "interrupted"),
    };
#undef F
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        proto_msg_t m;
        char err[512] = "";
        CHECK_MSG(proto_decode(bad[i].bytes, bad[i].len, &m, err, sizeof err) == PROTO_EINVAL,
                  "crafted frame %zu accepted", i);
        CHECK_MSG(err[0] != 0, "crafted frame %zu: no reason", i);
        CHECK_CONTAINS(err, bad[i].why);
        CHECK_INT(proto_fuzz_one((const uint8_t *)bad[i].bytes, bad[i].len), 0);
    }
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* The corpus kept beside the code. */
static void test_corpus(void)
{
    const char *dir = "proto/testdata/fuzz";
    DIR *d = opendir(dir);
    struct dirent *e;
    int nok = 0, nbad = 0, nother = 0;

    REQUIRE_MSG(d != NULL, "%s: %s", dir, strerror(errno));
    while ((e = readdir(d))) {
        char path[512];
        size_t len;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *buf = read_all(path, &len);
        REQUIRE_MSG(buf != NULL, "%s: cannot read", path);
        int accepted = proto_fuzz_one((const uint8_t *)buf, len);
        if (strncmp(e->d_name, "ok-", 3) == 0) {
            CHECK_MSG(accepted == 1, "%s refused", path);
            nok++;
        } else if (strncmp(e->d_name, "bad-", 4) == 0) {
            CHECK_MSG(accepted == 0, "%s accepted", path);
            nbad++;
        } else {
            nother++;
        }
        free(buf);
    }
    closedir(d);
    CHECK_MSG(nok >= 13, "only %d ok- frames in %s", nok, dir);
    CHECK_MSG(nbad >= 1, "no bad- frame in %s", dir);
    fprintf(stderr, "corpus: %d accepted, %d refused, %d other\n", nok, nbad, nother);
}

static int write_seeds(const char *dir)
{
    for (size_t i = 0; i < proto_fuzz_nseeds(); i++) {
        char *buf, path[512];
        size_t len;
        const char *name;
        if (proto_fuzz_seed(i, &buf, &len, &name) != 0)
            return 1;
        snprintf(path, sizeof path, "%s/ok-%s", dir, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "%s: %s\n", path, strerror(errno));
            free(buf);
            return 1;
        }
        free(buf);
    }
    return 0;
}

static const testrun_case_t cases[] = {
    { "seeds", test_seeds },
    { "crafted", test_crafted },
    { "corpus", test_corpus },
};

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 120, NULL);
}
