/*
** base/proc.h -- a process named so that the name outlives its pid: the
** host, the kernel's boot id, the pid and the process's start time (clock
** ticks since boot, /proc/PID/stat field 22). A pid is reused; the pair
** (pid, start time) within one boot is not.
**
** A run's owner (the process that coordinates it) records its proc_id_t in
** the run's row; a reader on the same host asks proc_alive() whether that
** process still runs. Linux only (/proc).
*/
#ifndef HEAPSIM_BASE_PROC_H
#define HEAPSIM_BASE_PROC_H

#include <stdbool.h>
#include <stdint.h>

#define PROC_HOST_MAX 256
#define PROC_BOOT_MAX 40         /* a boot id is 36 characters */

typedef struct proc_id {
    char host[PROC_HOST_MAX];    /* gethostname() */
    char boot[PROC_BOOT_MAX];    /* /proc/sys/kernel/random/boot_id, "" if unknown */
    int64_t pid;
    int64_t started_ticks;       /* start time since boot, clock ticks; -1 if unknown */
} proc_id_t;

/* The calling process's id into *out: 0, or -1 when /proc cannot tell its
** start time or boot id (out is then filled as far as known). */
int proc_self(proc_id_t *out);

/* pid's start time since boot in clock ticks, or -1 when there is no such
** process, it is a zombie (it has exited; only its parent has not waited
** for it), or /proc cannot be read. */
int64_t proc_started_ticks(int64_t pid);

/* Whether `id` is a process of this machine's current boot: same host name
** and same boot id (both known). */
bool proc_here(const proc_id_t *id);

/* Whether the process `id` names is running: it is here (proc_here) and
** its pid runs with the same start time. A process elsewhere, or of an
** earlier boot, is not running here: callers judge those otherwise. */
bool proc_alive(const proc_id_t *id);

#endif
