/*
** kernels/sessions.c -- a request handler whose leak hides among honest
** allocations: the heap profile's lesson.
**
** One goroutine handles `requests` requests. Each one reads a body
** (body_bytes, "sessions.read_body"), parses it into a few small fields
** ("sessions.parse_field") and builds a response (response_bytes,
** "sessions.encode_response"): all garbage when the request ends, and
** nearly all the bytes allocated. new_session_percent of the requests
** (spread evenly) open a session: a record of session_bytes
** ("sessions.new_session") stored in the session table, a global (a root
** slot of the main goroutine's frame) of reference slots, doubled when full
** ("sessions.table"). Sessions are never closed, so the table only grows:
** the leak. With `evict`, the table is a ring of max_sessions slots and a
** new session replaces the oldest one, so the live heap stays flat.
**
** The allocation profile (alloc_space) is led by the bodies; only the
** in-use profile (inuse_space) shows where the memory stays: the sessions.
** Output: one line with the live heap after a final collection; metrics:
** live_bytes_end, sessions_held, sessions_opened.
*/
#include "kernels/kernels.h"

#include <string.h>

#define SESSIONS_FIELDS 4              /* parsed fields per request */
#define SESSIONS_FIELD_BYTES 48
#define SESSIONS_TABLE_MIN_SLOTS 64

void kernel_sessions(rt_t *rt, const kparams_t *p)
{
    heap_t *h = rt_heap(rt);
    int64_t requests = kparams_int(p, "requests");
    size_t body_bytes = (size_t)kparams_int(p, "body_bytes");
    size_t response_bytes = (size_t)kparams_int(p, "response_bytes");
    size_t session_bytes = (size_t)kparams_int(p, "session_bytes");
    double new_percent = kparams_float(p, "new_session_percent");
    bool evict = kparams_bool(p, "evict");
    int64_t max_sessions = kparams_int(p, "max_sessions");
    /* 0: the session table (a global); 1: the body; 2: the response;
    ** 3: the parsed fields (a list through slot 0 of each) */
    heap_ref_t *frame = rt_push(rt, 4);
    uint64_t capacity = evict ? (uint64_t)max_sessions : SESSIONS_TABLE_MIN_SLOTS;
    uint64_t held = 0, opened = 0, next_slot = 0;
    double share = 0;
    int rc;

    frame[0] = rt_alloc_at(rt, (uint32_t)capacity, 0, "sessions.table");
    for (int64_t id = 0; id < requests; id++) {
        frame[1] = rt_alloc_at(rt, 0, body_bytes, "sessions.read_body");
        unsigned char *body = heap_data(h, frame[1], 0);
        memset(body, (int)(id & 0xff), body_bytes < 64 ? body_bytes : 64);
        frame[3] = 0;
        for (int f = 0; f < SESSIONS_FIELDS; f++) {
            heap_ref_t field = rt_alloc_at(rt, 1, SESSIONS_FIELD_BYTES, "sessions.parse_field");
            heap_write_ref(h, field, 0, frame[3]);
            *(int64_t *)heap_data(h, field, 1) = id * SESSIONS_FIELDS + f;
            frame[3] = field;
        }
        share += new_percent;
        if (share >= 100) {
            share -= 100;
            heap_ref_t s = rt_alloc_at(rt, 1, session_bytes, "sessions.new_session");
            heap_write_ref(h, s, 0, frame[3]);   /* it keeps its parsed fields too */
            *(int64_t *)heap_data(h, s, 1) = id;
            if (!evict && next_slot == capacity) {
                /* Double the table; the session is rooted in frame[2] meanwhile. */
                frame[2] = s;
                heap_ref_t bigger = rt_alloc_at(rt, (uint32_t)(capacity * 2), 0,
                                                "sessions.table");
                heap_copy_refs(h, bigger, 0, frame[0], 0, (uint32_t)capacity);
                frame[0] = bigger;
                capacity *= 2;
                s = frame[2];
            }
            uint32_t slot = (uint32_t)(next_slot % capacity);
            if (heap_read_ref(h, frame[0], slot) == 0)
                held++;
            heap_write_ref(h, frame[0], slot, s);
            next_slot = evict ? (next_slot + 1) % capacity : next_slot + 1;
            opened++;
        }
        frame[2] = rt_alloc_at(rt, 0, response_bytes, "sessions.encode_response");
        memcpy(heap_data(h, frame[2], 0), body, response_bytes < 64 ? response_bytes : 64);
        frame[1] = frame[2] = frame[3] = 0;
    }

    if ((rc = heap_collect(h)) != 0)
        rt_fail(rt, "sessions: collecting at the end: %s", heap_strerror(rc));
    heap_stats_t hs;
    heap_stats_read(h, &hs);
    rt_printf(rt, "sessions (evict=%s): %lld requests, %llu sessions opened, %llu held; "
              "live heap after a collection %.1f MiB\n",
              evict ? "true" : "false", (long long)requests, (unsigned long long)opened,
              (unsigned long long)held, (double)hs.heap_live_bytes / 1048576.0);
    rt_metric(rt, "live_bytes_end", (double)hs.heap_live_bytes, "B");
    rt_metric(rt, "sessions_opened", (double)opened, "");
    rt_metric(rt, "sessions_held", (double)held, "");
    rt_pop(rt, 4);
}
