/*
** base/proc.c -- process identity from /proc (proc.h).
*/
#include "base/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The boot id into buf (size > 36): 0, or -1 leaving buf "". */
static int read_boot(char *buf, size_t size)
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    buf[0] = '\0';
    if (!f)
        return -1;
    if (!fgets(buf, (int)size, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return buf[0] ? 0 : -1;
}

int64_t proc_started_ticks(int64_t pid)
{
    char path[64], line[1024], *p, *end;
    FILE *f;
    size_t n;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses,
    ** so fields are counted from the last ')'. */
    if (!(p = strrchr(line, ')')))
        return -1;
    p++;
    while (*p == ' ')
        p++;
    if (*p == 'Z' || *p == 'X')
        return -1;
    /* State is field 3; the start time is field 22: 19 fields on. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    long long ticks = strtoll(p, &end, 10);
    if (end == p || ticks < 0)
        return -1;
    return ticks;
}

int proc_self(proc_id_t *out)
{
    int rc = 0;

    memset(out, 0, sizeof *out);
    if (gethostname(out->host, sizeof out->host - 1) != 0)
        snprintf(out->host, sizeof out->host, "localhost");
    out->pid = (int64_t)getpid();
    if (read_boot(out->boot, sizeof out->boot) != 0)
        rc = -1;
    if ((out->started_ticks = proc_started_ticks(out->pid)) < 0)
        rc = -1;
    return rc;
}

bool proc_here(const proc_id_t *id)
{
    proc_id_t self;

    proc_self(&self);
    return id->boot[0] && self.boot[0] && strcmp(id->host, self.host) == 0 &&
           strcmp(id->boot, self.boot) == 0;
}

bool proc_alive(const proc_id_t *id)
{
    if (!proc_here(id) || id->started_ticks < 0)
        return false;
    return proc_started_ticks(id->pid) == id->started_ticks;
}
