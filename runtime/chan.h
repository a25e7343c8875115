/*
** runtime/chan.h -- Go channels for the goroutines of one task.
**
** A channel is an object in the shared heap (its buffer another one), so
** a value sitting in a buffer is kept alive by whatever keeps the channel
** alive: a goroutine's root frame, another object, a global. The elements
** are fixed per channel: `nptrs` references then `scalar_bytes` of plain
** data, like heap objects (a chan of object refs, of ints, of small
** structs). A channel ref is an ordinary heap_ref_t: store it in root
** slots and objects like any other.
**
** Go's rules: a send on a closed channel fails the task with "send on
** closed channel", a close of a closed channel with "close of closed
** channel" (of a nil one: "close of nil channel"). A receive from a
** closed, drained channel returns the zero value and false; close wakes
** every receiver that way and fails blocked senders. Operations on the nil
** channel (ref 0) block forever. Blocked goroutines show in deadlock
** reports as [chan send], [chan receive], [select] (with " (nil chan)" or
** select " (no cases)" where Go says so).
**
** References and collections. Every operation is a safepoint: a collection
** by any process may run inside it. The caller keeps the channel itself
** reachable across the call (in a root slot, as for any object it uses).
** The references a send is given need not be rooted: they are copied into
** root slots before the call's first safepoint, and stay rooted while they
** wait in a buffer, in a parked sender's wait record or on their way to a
** parked receiver. References a receive returns are not rooted: like
** rt_alloc's result, root them before the next safepoint.
**
** Stacks. A goroutine blocked in a channel operation may have its stack
** set aside while it waits (sched_park_flags, SCHED_PARK_STACK_ASIDE): the
** bytes are copied elsewhere, the pages released, and both come back at
** the same addresses before it runs again. Meanwhile nobody may read or
** write its stack: share state with other goroutines through the heap or
** malloc'd memory, not through pointers to locals of a goroutine that
** blocks on channels. (Out-pointers are written by the receiving goroutine
** itself, after it wakes. sync.h's waits do not set stacks aside.)
**
** Unwinding (sched_unwinding(), after a task failed): an operation that
** would block returns at once -- a send drops its value, a receive gets
** the zero value and false, a select returns CHAN_SELECT_DEFAULT. One may
** still hand a value to a waiter; that is harmless, every goroutine is
** being ended (the scheduler ignores readying one that has ended).
**
** Misuse that is the program's fault (a ref that is not a channel,
** elements too big, arrays of the wrong size) fails the task.
*/
#ifndef HEAPSIM_RUNTIME_CHAN_H
#define HEAPSIM_RUNTIME_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm_heap/heap.h"
#include "runtime/rt.h"

/* Element limits (Go's: an element is at most 64 KiB). */
#define CHAN_MAX_ELEM_NPTRS 1024u
#define CHAN_MAX_ELEM_SCALAR_BYTES 65536u
/* References one select may send, over all its send cases. */
#define CHAN_SELECT_MAX_SEND_NPTRS 1024u

/* make(chan T, cap): a new channel of elements of `nptrs` refs and
** `scalar_bytes` bytes, buffered for `cap` elements (0: unbuffered).
** Unrooted like rt_alloc's result. Fails the task on bad sizes ("makechan:
** size out of range") and when the heap is full. */
heap_ref_t chan_make(rt_t *rt, uint32_t nptrs, size_t scalar_bytes, size_t cap);

/* ch <- v: refs has the channel's nptrs refs (may be NULL when 0),
** scalars its scalar_bytes (may be NULL when 0). Blocks until a receiver
** takes it or there is room in the buffer. */
void chan_send(rt_t *rt, heap_ref_t ch, const heap_ref_t *refs, const void *scalars);

/* v, ok := <-ch: blocks until a value or the close. Writes the value to
** refs_out / scalars_out (either may be NULL: discarded); returns true,
** or false with the zero value when ch is closed and drained. refs_out is
** root slots or C memory, never a heap object's slots (those are stored
** only through heap_write_ref). */
bool chan_recv(rt_t *rt, heap_ref_t ch, heap_ref_t *refs_out, void *scalars_out);

/* close(ch). */
void chan_close(rt_t *rt, heap_ref_t ch);

/* len(ch), cap(ch); 0 for the nil channel. */
size_t chan_len(rt_t *rt, heap_ref_t ch);
size_t chan_cap(rt_t *rt, heap_ref_t ch);

/* ---- select ------------------------------------------------------------ */

typedef enum chan_dir {
    CHAN_SEND = 1,
    CHAN_RECV = 2
} chan_dir_t;

typedef struct chan_case {
    chan_dir_t dir;
    heap_ref_t ch;              /* 0: this case is never ready */
    const heap_ref_t *refs;     /* SEND: the value, as for chan_send */
    const void *scalars;
    heap_ref_t *refs_out;       /* RECV: where the value goes, as for chan_recv */
    void *scalars_out;
    bool ok;                    /* RECV, out: false when closed and drained */
} chan_case_t;

#define CHAN_SELECT_DEFAULT (-1)

/* select over n cases: runs one ready case and returns its index; when
** none is ready returns CHAN_SELECT_DEFAULT if has_default, else blocks
** until one is. Among ready cases the choice is uniformly random (Go's
** rule), from the task's seeded stream, so a run is reproducible. A ready
** send case on a closed channel fails the task like chan_send. */
int chan_select(rt_t *rt, chan_case_t *cases, size_t n, bool has_default);

#endif
