/*
** shm_heap/heap_int.h -- private to shm_heap: the segment layout, the
** states and the invariants the collector keeps.
**
** THE SEGMENT (one POSIX shm object, mapped MAP_SHARED at any address)
**
**   offset 0                                                           seg_bytes
**   +-----------+-------------+----------------+-------------+-------------------+
**   | heap__hdr | page map    | span table     | pointer map | heap pages ..hwm..|
**   | (config,  | uint32 per  | heap__span_t   | 1 bit per   | [first_page,      |
**   |  locks,   | page: start | per page; only | 8-byte word | npages): 8 KiB    |
**   | central,  | page of the | the entry at a | of the      | pages carved into |
**   | procs,    | in-use span | span's start   | segment     | spans             |
**   | history)  |             |                | (128 B/page)|                   |
**   +-----------+-------------+----------------+-------------+-------------------+
**
** The file is ftruncate'd to the whole reserve once; tmpfs is sparse, so a
** page costs memory only when touched. Heap pages below `commit_page` are
** fallocate'd (with their map, span-table and pointer-map entries) before
** use, so a full tmpfs answers HEAP_EOOM instead of SIGBUS. Everything in
** the segment is addressed by offset or page number, never by pointer.
**
** SPANS. A span is a run of pages starting at page s; its metadata is
** spans[s] (entries at non-start pages are stale and never read). Walking
** s -> s + spans[s].npages from first_page reaches exactly hwm_page: this
** walk is the ground truth the page heap, the central lists and the page
** map are rebuilt from, after a crash and at every sweep.
**
**   FREE   pages not in use. Kept in free lists by length (bucket k-1 for
**          k < 128 pages, the last bucket for >= 128, first fit), linked
**          through spans[s].next. Coalescing happens only in the walk.
**          `released`: the span's pages were given back (SCAVENGER).
**   SMALL  nelems slots of elem_bytes for one span class (size class << 1
**          | noscan). Two bitmaps; (sweep_word & 1) selects the alloc
**          bitmap, the other one is the mark bitmap.
**   LARGE  one object bigger than HEAP_MAX_SMALL_BYTES, in whole pages;
**          bit 0 of each bitmap is its alloc / mark bit; large_nptrs is
**          its number of reference slots.
**
** Pages at and above hwm_page have never been a span: they read as zero.
**
** OBJECTS. No header: an object is its slot, as in Go, and the slot is
** exactly a size class (16 bytes asked for take the 16-byte class; 32 KiB
** the 32 KiB class):
**
**     slot:  [ ref slot 0 ... nptrs-1 ][ scalars ][ class round-up ]
**            ^ heap_ref_t points here
**
** What the collector needs -- how many reference slots -- lives beside the
** span, as Go's heap bitmap does:
**
**   - noscan span classes (objects with no slots): nothing at all; the
**     marker never reads their memory.
**   - scan spans: the POINTER MAP, one bit per 8-byte word of the segment
**     (bit w%64 of word w/64 describes the word at offset 8w). An object at
**     word w with nptrs slots has bits w .. w+nptrs-1 set and, when nptrs
**     is less than its slot's words, bit w+nptrs clear; bits past that are
**     don't-care. nptrs = the run of ones from w, capped at the slot's
**     words. The allocator writes those nptrs+1 bits (one word RMW in the
**     common case); a span never shares a pointer-map word with another
**     span (a page is 16 whole words), and a span is written only by the
**     process that caches it, so the writes need no atomics.
**   - LARGE spans: large_nptrs in the span entry (a per-span constant).
**
** Cost: 1/64 of the heap (1 bit per word, 128 bytes per 8 KiB page); Go
** 1.19 pays 2 bits per word (1/32). The requested size is not kept (Go
** does not keep it either): heap_obj_size() answers the slot's bytes.
** A slot i of a SMALL span is allocated iff i < freeindex or its alloc bit
** is set; slots are handed out in increasing order from freeindex, so the
** fast path never writes the alloc bitmap. Memory handed out is zero.
**
** PROCESSES. procs[] has one entry per attachment:
**
**   FREE --heap_open--> OUTSIDE <--heap_enter / heap_leave--> RUNNING
**                                                               |   ^
**                                   safepoint, stop requested   |   |  world restarts
**                                                               v   |
**                                                               PARKED
**   any --found dead by a collector or an attacher--> DEAD --> FREE
**   OUTSIDE/any --heap_close--> FREE
**
** A process caches one SMALL span per span class (its mcache, in its
** heap_t); such a span has owner = the process's attach_id and is on no
** central list. Its freeindex in the segment is only current while the
** process is OUTSIDE or PARKED (it writes it back before either). A span
** whose owner is not a live attachment is an orphan: its freeindex may be
** stale, so nothing allocates from it until a sweep has recomputed it from
** the mark bits. Only a sweep takes spans away from their owners (it takes
** every one, and bumps cache_epoch so owners drop their caches).
**
** STOP THE WORLD. `stw` is 0 or the pid of the process that owns the world
** (the collector, or heap_verify). To own it: CAS 0 -> pid. Then wait
** until every other attached process is OUTSIDE, PARKED or dead.
**
**   collector: store stw = pid (seq_cst);  load procs[i].state (seq_cst)
**   mutator:   store state = RUNNING (seq_cst); load stw (seq_cst)
**
** (Dekker) so at least one of the two sees the other: a mutator never runs
** past heap_enter or a safepoint while the world is stopped. A parking
** process bumps stop_seq and wakes it (futex); the collector sleeps on
** stop_seq with a timeout and checks the pids of RUNNING processes when it
** times out. Parked processes sleep on park_seq, read before they look at
** stw and help_gen; whoever restarts the world (stw := 0) or opens a
** helped mark (help_gen) bumps park_seq after that store and then wakes
** it, so a change between a parked process's look and its sleep makes the
** sleep return at once (no wake is lost). When a sleep times out and stw
** names a dead process, the parked process CASes stw to its own pid and
** finishes that collection (recovery) before restarting the world.
**
** THE LOCKS. Robust, process-shared mutexes, each repaired by whoever
** gets EOWNERDEAD:
**
**   heap lock     the page heap (free lists, hwm, commit), the process
**                 table, the root and pool lists, gc_phase, sweepgen.
**   central[spc]  one per span class (Go's mcentral): the list of spans of
**                 that class with free slots, and the alloc_count of the
**                 spans on it. Each lock has its own cache line.
**
** Order: the heap lock, then central locks in ascending spc; never a
** central lock and then the heap lock. A refill takes only central[spc]
** (give the old span back, pop a partial span); when the list is empty it
** drops that lock and cuts fresh pages from its own cached run without a
** lock (PAGE CACHE), taking the heap lock alone only for a new run, about
** once per 64 pages, and makes them a span owned by itself (on no list).
** So four processes refilling different classes share no lock. The
** direct path (root stacks, pools) holds the heap lock and then one
** central lock.
**
** The collector and heap_verify take every lock (heap__lock_world) after
** the world is stopped (never while waiting for the stop: a RUNNING
** process may be waiting for one in a refill) and hold them through mark
** and sweep.
**
** Repair. Heap lock: heap__repair_locked() takes every central lock, then
** the walk rebuilds the free lists, the central lists, the page map and
** the in-use count; owned spans are left alone (orphans stay unusable
** until the next sweep); root-list back links are recomputed; an odd
** history sequence is made even. gc_phase says whether a collection was
** cut short; the next collector then clears every mark bit and runs a full
** cycle. Central lock spc: a holder that moves a span onto or off the list
** first records it in central[spc].busy_page and clears it last; each list
** link is committed by one store. heap__central_repair_locked() walks the
** list (it only holds spans nobody else touches while the lock is held),
** recounts every span on it, drops the ones that are full, owned or not of
** the class, then settles busy_page: on the list -> owner = 0 (a push cut
** short); off the list with owner 0 -> pushed back (a pop cut short);
** owner != 0 -> left to the sweep as an orphan. So the invariant "a span
** with owner 0 and room is on its class's list" holds again on return.
**
** MARKING (tri-colour). White = mark bit clear; grey = marked and on the
** mark stack (or, after a mark-stack overflow, marked and not yet
** rescanned); black = marked and its nptrs slots scanned. Invariant during
** mark: no black object points to a white one. Roots are greyed first; a
** grey object is blackened by greying its white children. Marking ends
** when nothing is grey, so every object reachable from a root is black.
** With the stop-the-world collector (collector: stw) the world is stopped
** throughout, so no mutator breaks the invariant. Outside a cycle every
** mark bit is clear.
**
** CONCURRENT MARK (the default collector, Go's design across processes).
**
**   IDLE --trigger--> [stop 1: sweep termination] CONC_MARK --all done-->
**   [stop 2: MARK (termination), SWEEP] --> IDLE
**
** Stop 1 (world stopped, every lock): pools rotated, mark_cycle = the new
** cycle, gc_phase = CONC_MARK, poll |= HEAP__POLL_MARK; the world restarts.
** Each process, when it next becomes RUNNING (heap__mark_join: after the
** stop, or at heap_enter), turns its barrier on (view.barrier_on, which
** changes only across a stop) and, before it runs any mutator code, greys
** its own roots (root stacks, globals, pools) once per cycle
** (procs[i].scanned_cycle): a snapshot of its roots, as Go scans a
** goroutine's stack while it is suspended. Then, while the world runs:
**
**   - Allocate black: every object allocated during CONC_MARK has its mark
**     bit set (mcache_take, large objects, the direct path).
**   - The write barrier (heap.h: heap_write_ref, heap_copy_refs; Go's
**     hybrid barrier) shades the old and the new referent of every store
**     into a heap object. Root slots are written without it.
**   - Mark work: each process drains its own grey stack (malloc'd, not in
**     the segment) in assists (heap__mark_assist_charge, per span refill,
**     at the pacer's assist ratio, after taking background credit), in a
**     fractional background worker at the pacer's fractional goal (25 %
**     of its wall time) at safepoints, and as Go's idle mark worker
**     (heap_mark_idle: its scheduler has nothing to run until a timer).
**     Mark bits are set by atomic or.
**   - Parallel marking (STEAL QUEUE): when more than one process was
**     attached at stop 1, a process whose steal queue is empty and that
**     has more than a few grey objects moves the top half of its stack
**     (up to a queue's worth) into its queue (Go's gcWork.balance); a
**     process whose stack runs empty in any of the three kinds of work
**     takes its own queue back, else half of another's (Go's
**     trygetfull), so one process holding a big grey subgraph does not
**     leave the others' assists with nothing to pay with.
**   - A process that stops (heap__park) or leaves the heap (heap_leave)
**     first drains its grey stack: a process not RUNNING has nothing grey
**     of its own; what it offered stays in its steal queue for anyone.
**     procs[i].mark_busy says a RUNNING one may have something grey (set
**     before it takes from a steal queue).
**
** Why nothing reachable is lost (snapshot at the beginning): an object
** reachable when process P scanned its roots was reachable at stop 1 (P's
** roots did not change in between: P did not run) or allocated since
** (black). A path from the snapshot to it is cut only by a store into a
** heap object, which shades the old referent; roots move references
** between roots only. So every object of the snapshot is greyed, and
** scanned before the termination. Invariant while marking: no black
** object points to a white one that the snapshot holds; at termination,
** no black object points to a white one (asserted in debug builds).
**
** Termination: a process whose stack is empty checks that every steal
** queue is empty and no RUNNING process has mark_busy set or roots
** unscanned (mark_done), then stops the world (every process drains its
** stack as it stops). The check is not atomic across processes (a thief
** may take the last entries between two reads), and need not be: a wrong
** yes only lengthens stop 2. Stop 2 (every lock): scan the roots of
** processes that stayed outside the whole mark, take and drain what every
** steal queue still holds, drain, then the sweep as before. A process
** that died during the mark (proc_deaths moved since stop 1) may have
** taken grey objects with it (its stack, entries it had just taken, slots
** written but not published), and a grey stack that overflowed
** (mark_overflow) left some unscanned: then stop 2 clears every mark (and
** every steal queue) and marks again from the roots with the world
** stopped. A process killed while RUNNING is always found by that stop;
** one killed parked or outside had nothing grey but its queue, which
** stays in the segment. A collector
** that dies inside stop 2 leaves gc_phase MARK or SWEEP: the next one
** clears every mark and runs a full cycle, unless the dead one had begun
** its lazy sweep (sweep_active): its mark was then complete, and the
** marks of the spans not yet swept are the only record of what is live,
** so they are kept and the sweep is finished with them first.
**
** Marked bytes: greyed by all processes (flushed into mark_live_bytes)
** plus what was allocated during the mark (total allocation since stop 1):
** Go's heapMarked, which counts allocated-black objects.
**
** HELPING. A mark made with the world stopped (a stop-the-world cycle,
** stop 2's drain, a re-mark) is drained by the collector and every
** process stopped in heap__wait_world, as Go's stop-the-world mode marks
** with every P. The collector, when some process is PARKED, empties the
** steal queues into its own stack, then opens help_gen and wakes the
** stopped processes (park_seq, STOP THE WORLD); each one that sees help_gen joins
** (procs[i].helping, set before it reads help_gen; the collector clears
** help_gen before it reads the flags: Dekker). All of them then offer and
** take through the steal queues, with the world stopped, mark bits set by
** atomic or. Termination is Go's nwait made exact in one word:
**
**   help_count = (markers holding grey objects) << 32
**              + (entries in steal queues)
**
** A marker counts itself busy before it takes from a queue and uncounts
** itself only when its stack is empty; an offer is counted before the
** entries are visible, and a take uncounted after its taker is busy. So
** help_count == 0 means nothing is grey anywhere, and it stays 0. The
** collector then clears help_gen and waits until no helper is inside
** (every helping flag clear, or its process dead); helpers add their
** figures to help_live_* before they uncount themselves. A helper killed
** while busy, or between counting an offer and publishing it, leaves
** help_count above 0 forever: the collector, finding a helper dead while
** it waits, gives up, waits for the others to leave and marks again from
** the roots, alone. A collector killed while helped leaves helpers that
** leave when the world changes hands; whoever recovers the world waits
** for them (help_quiesce at every cycle's start) before it repairs.
**
** Not modelled: Go's dedicated mark workers (a process here has one
** thread: it marks in assists, at safepoints and when idle).
**
** POOLS. Before marking, still under the lock with the world stopped, the
** collector rotates every attached process's pool areas (victim :=
** primary, primary := empty; see struct heap_pool). Their slots are then
** roots like a root stack's: both halves, up to their counts.
**
** SWEEP (eager, at the end of the stop). For every SMALL span: no marks ->
** FREE; else the mark bitmap becomes the alloc bitmap (one store to
** sweep_word commits it), the old alloc bitmap is cleared to be the next
** mark bitmap, freeindex = 0, owner = 0. Unmarked LARGE spans are freed.
** The same walk coalesces free runs and rebuilds every list.
**
** PACING (Go 1.19's mgcpacer.go). heap_live_bytes = bytes marked at the
** last cycle + bytes handed out since, counted when a span is given to an
** mcache (all its free slots) or a large object is allocated, like Go's
** heapLive (and Go 1.19's totalAlloc - totalFree). A refill collects first
** when heap_live_bytes would pass goal = min(GOGC goal, limit goal):
**
**   GOGC goal  = marked + (marked + stacks + globals) * GOGC / 100,
**                at least 4 MiB * GOGC / 100 (Go's heapMinimum)
**   limit goal = limit - (non-heap + overage) - 1 MiB headroom
**                (memoryLimitHeapGoal; 1 MiB when less than 2 MiB is
**                left before the headroom; never below marked), where
**     mapped   = header + map/span/pointer-map entries of committed pages
**                + committed heap pages not released + stacks
**     non-heap = mapped - free unreleased pages - heap_live_bytes
**     overage  = max(mapped - limit, 0)
**
** stacks are the processes' reported stack scan bytes (Go's lastStackScan)
** and globals the slots of their heap_globals(), both summed when the pacer
** updates (each cycle and each setting change), as Go uses the last
** cycle's stack scan. The processes' reported stack space in use (Go's
** maxStackScan) is summed then too and again, with the world stopped, when
** a concurrent cycle starts: the worst case revise() stretches the runway
** to. (Go adds to maxStackScan as stacks come and go, within 8 KiB per P;
** here stacks that grow during a mark are seen at the next cycle.) Go bounds
** the GC spiral near the limit with its GC CPU limiter (50%); here a
** collection only the limit goal asks for waits, after a cycle, as long as
** that cycle's pause took (limit_gc_after_ns), so such collections take
** at most half the wall time. One the GOGC goal asks for never waits.
**
** SCAVENGER (Go 1.19's mgcscavenge.go). Free pages go back to the OS by
** punching a hole in the segment (fallocate PUNCH_HOLE): for a shared
** tmpfs file that frees the pages and drops them from every process's
** RSS; madvise(MADV_DONTNEED) would only unmap them in one process. A FREE
** span is released whole or not at all (its `released` flag);
** hdr->released_pages is the sum over released spans, recomputed by
** every walk. The hole is punched before the flag is set: a process
** killed in between leaves a span that reads as zero but counts as
** retained (released again later, zeroed anyway when reused), never one
** flagged released that still holds old bytes.
**
** Goals (scavenge_pace, at the end of each cycle, lock held). Retained =
** in-use + free unreleased pages is to come down to
**
**   gcPercentGoal = in-use at mark termination * goal / previous goal * (1 + 10%)
**
** (from the second cycle on), and with a memory limit, mapped memory
** (PACING) to 95 % of the limit (Go 1.19's code computes 95 times the
** limit, a slip Go 1.20 fixed, so there only the allocator keeps the
** limit; this follows the intended 95 %). A goal met at pacing time is
** none (scavenge_goal_bytes UINT64_MAX, scav_limit_goal_bytes 0).
**
** The background scavenger (Go's bgscavenge), one per heap, run by the
** process whose turn it is: a wake (the end of the sweep -- the eager one
** of a stop-the-world cycle, the lazy one of a concurrent cycle -- as Go's
** sweeper wakes it; and a pacer update that finds mapped memory over 95 %
** of the limit, as Go's gcControllerCommit re-paces it) sets
** HEAP__POLL_SCAVENGE while a goal is unmet. A
** process at a safepoint that sees the bit once scav_next_ns has passed
** takes the lease, scav_lease, by a CAS from free (holder 0) to its token
** (the generation one higher, and its attach_id): the batch is its own,
** and no other starts until it puts the lease back, however long a stop
** of the world holds it up. While it runs, scav_next_ns is now + 100 ms,
** after which a process that finds the lease still held looks at its
** holder: alive, the batch runs on (look again 100 ms later); dead (its
** entry gone, DEAD, or its pid dead, as the collector checks), the lease is
** taken over by a CAS from the dead holder's token. It releases in 64
** KiB quanta (scavengeQuantum; the heap lock held per quantum only, never
** releasing past the goal) until it has worked 1 ms (minScavWorkTime), the
** goals are met or nothing is left; then it sleeps (scav_next_ns = end +
** max(worked, 1 ms) * (100 / (1 % * P) - 1), P the processes attached (Go's
** gomaxprocs), so scavenging takes ~1 % of the heap's processes' time
** (scavengePercent; Go's PI controller settles on that ratio, here it is
** the ratio itself), and puts the lease back (CAS its token -> free). A batch
** that found nothing to release or met the goals clears the bit (parks)
** unless a wake came meanwhile (scav_wake_seq).
**
** Which pages: the highest free unreleased spans first, the top of a span
** split off when only part of it is wanted (Go scavenges from the highest
** address down; allocation takes low addresses first after a rebuild of
** the lists). Each process keeps the 64 highest in its heap_t, found again
** at each batch's start, when they run out, or when hdr->free_epoch moves
** (a span left the free lists or was released: allocation, a walk,
** coalescing, another process's release).
**
** The allocator's synchronous scavenging (Go's allocSpan): paging in
** released pages or growing the heap past the memory limit first releases
** the difference; growing the heap (past hwm_page) while retained + growth
** exceeds gcPercentGoal releases up to that growth. Reusing a released span
** fallocates its pages again (a full tmpfs is HEAP_EOOM, not SIGBUS) and
** needs no zeroing. The walk never merges a released span with an
** unreleased neighbour (that would back released pages again or release
** pages the scavenger chose to keep), so two free spans may be neighbours
** when one of them is released. Released pages are not counted by
** PACING's mapped memory.
**
** HIGH-WATER MARKS. Heap in use is counted as Go's HeapAlloc: bytes of
** allocated objects (size classes; large objects' pages), i.e. marked at
** the last cycle + allocated since (heap_stats.heap_alloc_bytes), and
** objects likewise. Both only grow between cycles and fall only in a
** sweep, so their peak since a reset is max(value at the reset, value just
** before each sweep, value now): the collector folds the pre-sweep value
** into every attached process's hwm_* (world stopped, so it is exact),
** and heap_hwm_read() adds "now". Nothing on the fast path. (Go's
** heapLive, counted per span handed to an mcache, would also fall when a
** span goes back, and is not what Go reports as the heap in use.) Stack
** bytes: the max of what the process reported (heap_set_stack_bytes).
**
** HEAP PROFILE (heap.h, "Heap profile"). Each process that samples has
** two objects in noscan spans, linked from its entry like its globals and
** kept alive (marked, not scanned) by every collector:
**
**   prof_sites    struct heap__prof_sites: HEAP_PROF_SITES sites (name,
**                 sampled allocs, frees); made once, never moves, so
**                 another thread may read it (heap_prof_read)
**   prof_samples  struct heap__prof_samples: the live sampled objects,
**                 (offset, site, slot bytes) in [0, count), unordered
**
** The samples are weak: marking never reads them. After marking and
** before the sweep (world stopped, every lock held) the collector walks
** every process's samples; an object whose mark bit is clear is about to
** be swept: its site's free figures grow and its entry is replaced by the
** last one; then it publishes each site's figures as of this cycle (gc[],
** gc_cycle). So between cycles every entry names an allocated object, and
** no slot is reused while an entry names it (slots are reused only after
** a sweep). The owner appends (sites' alloc figures, then the entry, then
** count) and grows the table (a copy into a new object, the old one left
** to the sweep) only between safepoints, so no collector sees a half-made
** entry. Counters are one writer at a time (the owner, or a collector with
** the world stopped) and read by relaxed atomics. The sampling state
** (rate, the bytes to the next sample, the random stream) is the
** process's own, in its heap_t, as Go keeps nextSample in its mcache.
**
** DESIGN CHOICES
**
**  - No object header; a pointer map beside the heap instead (OBJECTS):
**    a 16-byte object takes the 16-byte class as in Go, and the bytes
**    counted are Go's. The price is a second cache line per scanned
**    object (its pointer-map word, prefetched when it is greyed) and a
**    page-map lookup in heap_obj_nptrs(). An object is a prefix of slots
**    then scalars, so a run length suffices where Go needs a bit per word
**    for "pointer" and one for "more pointers follow".
**  - Size classes: Go 1.19's 67 classes and span sizes (heap_test reads
**    them from Go's sizeclasses.go), with a division magic of our own;
**    heap_test checks the magic exhaustively.
**  - Page heap: segregated free lists by length + a non-empty mask, rebuilt
**    by the sweep's walk (see heap_page.c). A bitmap allocator would make
**    multi-page searches linear; the lists make the common one-page refill
**    a pop, and they are derived data, which makes crash repair a walk.
**  - Stats without atomics on the fast path: per-process counters in the
**    process's entry (relaxed stores, one writer), summed by readers.
**  - Central locks per span class rather than a lock-free span set: a
**    robust mutex is repaired by the next taker, a lock-free list in
**    shared memory would need its own crash story. The heap lock is only
**    taken for fresh pages, roots, pools and attach/close.
**  - Parking does not return cached spans (that would take the lock): it
**    writes back each cached span's freeindex, and the sweep takes every
**    cached span, of live and dead processes alike.
**  - Marking prefetches each object when it is greyed and again through a
**    16-entry FIFO in front of the mark stack; the mark stack overflows
**    into a rescan of marked objects rather than failing.
**
** LIMITS. All attached processes must share a pid namespace (liveness is
** kill(pid, 0) plus /proc/<pid>/stat). A process RUNNING but blocked
** outside the heap (I/O, waitpid) stalls every collection until it reaches
** a safepoint or calls heap_leave(), as a goroutine in a loop without
** preemption stalls Go's STW. A heap_t does not survive fork(): the child
** opens its own attachment (heap_close() of an inherited one only unmaps).
*/
#ifndef HEAPSIM_SHM_HEAP_HEAP_INT_H
#define HEAPSIM_SHM_HEAP_HEAP_INT_H

#include "shm_heap/heap.h"
#include "shm_heap/heap_pacer.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HEAP__PAGE_SHIFT 13
#define HEAP__PAGE_BYTES ((uint64_t)1 << HEAP__PAGE_SHIFT)
#define HEAP__PTR_MAP_PAGE_BYTES (HEAP__PAGE_BYTES / 64)   /* 1 bit per word */
#define HEAP__NCLASSES 68                    /* class 0 = large, 1..67 small */
#define HEAP__NSPANCLASSES (HEAP__NCLASSES * 2)
#define HEAP__MAX_NELEMS 1024
#define HEAP__BITMAP_WORDS (HEAP__MAX_NELEMS / 64)
#define HEAP__FREE_BUCKETS 128
#define HEAP__MAGIC 0x3150414548534d48ull    /* "HMSHEAP1" little-endian */
#define HEAP__LAYOUT_VERSION 15u  /* 2: pool areas; 3: central locks; 4: gc_fields_t history; 5: no header; 6: heap profile; 7: concurrent mark; 8: stack space in use (maxStackScan); 9: paced scavenger; 10: steal queues; 11: root work apart; 12: page caches; 13: park_seq, help_woken, the scavenger's lease token; 14: pacer_max_stack_bytes kept live by every process; 15: inuse_recount */
#define HEAP__MIN_RESERVE_BYTES (4u << 20)
#define HEAP__COMMIT_CHUNK_PAGES 128u        /* fallocate 1 MiB at a time */
#define HEAP__PCACHE_PAGES 64u               /* PAGE CACHE: a process's run (pageCachePages) */
#define HEAP__PCACHE_MAX_SPAN 16u            /* longer spans bypass it (pageCachePages / 4) */
#define HEAP__SCAV_CANDIDATES 64u            /* SCAVENGER's candidate spans per look */

/* ---- Size classes --------------------------------------------------- */

typedef struct heap__class {
    uint32_t elem_bytes;   /* slot size = object size */
    uint32_t npages;       /* pages per span */
    uint32_t nelems;
    uint32_t div_magic;    /* (off * div_magic) >> 32 == off / elem_bytes */
} heap__class_t;

/* Go 1.19's table: index 0 is unused (large objects). */
extern const heap__class_t heap__classes[HEAP__NCLASSES];

/* ---- Shared structures ---------------------------------------------- */

enum { HEAP__SPAN_FREE = 1, HEAP__SPAN_SMALL = 2, HEAP__SPAN_LARGE = 3, HEAP__SPAN_CACHED = 4 };

typedef struct heap__span {
    /* first cache line: what mark, sweep and refill read */
    uint32_t state;          /* HEAP__SPAN_*; 0 = never a span start */
    uint32_t npages;
    uint32_t spanclass;      /* class << 1 | noscan; 0 for LARGE */
    uint32_t elem_bytes;
    uint32_t nelems;
    uint32_t div_magic;
    uint32_t freeindex;      /* slots below are allocated */
    uint32_t alloc_count;    /* allocated slots, valid while owner == 0 */
    uint64_t sweep_word;     /* sweepgen << 1 | index of the alloc bitmap */
    uint32_t owner;          /* attach_id of the caching process, 0 = none */
    uint32_t next;           /* free list / central list link (a page), 0 = end */
    uint32_t needzero;       /* free slots may hold old bytes */
    uint32_t large_nptrs;    /* LARGE: reference slots of the object */
    uint64_t large_bytes;    /* LARGE: bytes requested */
    uint32_t released;       /* FREE: its pages are given back to the OS */
                             /* CACHED (PAGE CACHE): owner and needzero as above */
    uint32_t reserved;
    uint64_t bits[2][HEAP__BITMAP_WORDS];
} heap__span_t;

enum {
    HEAP__PROC_FREE = 0,
    HEAP__PROC_OUTSIDE = 1,
    HEAP__PROC_RUNNING = 2,
    HEAP__PROC_PARKED = 3,
    HEAP__PROC_DEAD = 4,
};

/* Two cache lines per entry: the owner bumps its counters on every
** allocation, so neighbours must not share a line. */
typedef struct heap__proc {
    alignas(64) uint32_t state;   /* HEAP__PROC_*; seq_cst */
    int32_t pid;
    uint32_t attach_id;      /* unique per attachment, never 0 */
    int32_t last_error;
    heap_ref_t roots_head;   /* this process's root stacks (heap_roots) */
    heap_ref_t globals;      /* its globals (a heap_roots object) or 0 */
    uint64_t stack_bytes;
    uint64_t alloc_bytes;    /* cumulative; written by the owner only */
    uint64_t alloc_objects;
    uint64_t start_ticks;    /* /proc/<pid>/stat starttime, against pid reuse */
    heap_ref_t pools_head;   /* this process's pool areas (heap_pool) */
    uint64_t hwm_alloc_bytes;    /* HIGH-WATER MARKS since this process's reset */
    uint64_t hwm_objects;
    uint64_t hwm_stack_bytes;
    heap_ref_t prof_sites;   /* HEAP PROFILE: struct heap__prof_sites, or 0 */
    heap_ref_t prof_samples; /* struct heap__prof_samples, or 0 */
    /* CONCURRENT MARK */
    uint32_t scanned_cycle;  /* the cycle whose mark has scanned this process's roots */
    uint32_t mark_busy;      /* its local grey queue is not empty (or may not be) */
    uint64_t max_stack_bytes;    /* stack space in use (Go's maxStackScan); stack_bytes
                                 ** above is the scan figure (lastStackScan) */
    uint32_t helping;        /* HELPING: stopped, in a helped mark (help_gen) */
    uint32_t pcache;         /* PAGE CACHE: first page of its cached run, 0 = none */
} heap__proc_t;
_Static_assert(sizeof(heap__proc_t) == 192, "a process entry is three cache lines");

/* A process's STEAL QUEUE (CONCURRENT MARK): grey objects it offers to
** every process, a ring of references read FIFO.
**
**   slot[(head .. tail-1) & (HEAP__STEAL_SLOTS-1)] are grey objects
**
** head and tail only grow (64 bits: no wrap, no ABA). Only the owner (the
** attachment in procs[i]) writes slots and tail: it writes the slots,
** then tail (release), and only while tail - head < HEAP__STEAL_SLOTS.
** Anyone -- the owner too -- takes entries by reading them, then one CAS
** of head from h to h + n: a failed CAS means someone else took them (or
** the slots may be rewritten), so the reader drops what it read. So an
** entry is taken exactly once, and a process killed anywhere leaves each
** entry either in the ring or in the private queue of the process that
** took it (a RUNNING process, whose death the stop of mark termination
** finds: that cycle then marks again with the world stopped). Entries a
** dead, parked or departed process left in its ring stay there for the
** others to take. An entry is only a reference; its slots are found again
** from its span when it is taken. */
#define HEAP__STEAL_SLOTS 128u
typedef struct heap__steal_q {
    alignas(64) uint64_t head;   /* next entry to take (CAS) */
    alignas(64) uint64_t tail;   /* next slot to fill (owner only) */
    heap_ref_t slot[HEAP__STEAL_SLOTS];
} heap__steal_q_t;

/* A span class's central list and its lock, on a cache line of its own. */
typedef struct heap__central {
    alignas(64) pthread_mutex_t lock;
    uint32_t partial_head;   /* spans with free slots, owner 0; 0 = empty */
    uint32_t busy_page;      /* span being moved on/off the list, 0 = none */
} heap__central_t;
_Static_assert(sizeof(heap__central_t) == 64, "a central entry is one cache line");

/* gc_phase. MARK and SWEEP happen with the world stopped (a collector that
** dies there leaves them behind: the next one clears every mark and runs a
** full cycle). CONC_MARK is the concurrent mark, with the world running. */
enum { HEAP__GC_IDLE = 0, HEAP__GC_MARK = 1, HEAP__GC_SWEEP = 2, HEAP__GC_CONC_MARK = 3 };

/* heap__hdr.poll: what heap_safepoint() has to look at. */
#define HEAP__POLL_STW 1u        /* a stop of the world is requested */
#define HEAP__POLL_MARK 2u       /* a concurrent mark runs: there may be mark work */
#define HEAP__POLL_SWEEP 4u      /* a lazy sweep runs: spans wait to be swept */
#define HEAP__POLL_SCAVENGE 8u   /* the background scavenger has work (SCAVENGER) */

/* The collector (heap_config.collector). */
enum { HEAP__COLLECTOR_CONCURRENT = 0, HEAP__COLLECTOR_STW = 1 };

typedef struct heap__hdr {
    /* identity: immutable once magic is set */
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_bytes;
    uint32_t span_bytes;
    uint32_t page_bytes;
    uint64_t seg_bytes;
    uint64_t page_map_off;
    uint64_t spans_off;
    uint64_t ptr_map_off;     /* the pointer map (OBJECTS) */
    uint32_t npages;          /* pages in the segment, metadata included */
    uint32_t first_page;      /* first heap page */
    uint64_t create_unix_ns;
    uint64_t create_mono_ns;

    /* stop the world */
    alignas(64) uint32_t stw;        /* 0 or the pid owning the world */
    uint32_t stop_seq;               /* bumped when a process stops */
    uint32_t poll;                   /* HEAP__POLL_*: the safepoint word */
    uint32_t park_seq;               /* parked processes' futex: bumped when the world
                                     ** is restarted or a helped mark opens */

    alignas(64) pthread_mutex_t lock;   /* the heap lock (THE LOCKS) */
    uint32_t gc_phase;               /* HEAP__GC_*, under lock */
    uint32_t sweepgen;
    uint32_t cache_epoch;            /* bumped when a sweep takes the mcaches */
    uint32_t next_attach_id;

    /* pacing; read without the lock (atomics) */
    alignas(64) uint64_t heap_live_bytes;
    uint64_t goal_bytes;             /* the GOGC goal; UINT64_MAX = off */
    uint64_t memory_limit_bytes;     /* 0 = none */
    int32_t gogc;
    uint32_t reserved0;
    uint64_t marked_bytes;           /* at the last cycle */
    uint64_t marked_objects;
    uint64_t inuse_after_gc_bytes;
    uint32_t inuse_recount;          /* PAGE CACHE: inuse_pages may be off; recount it
                                     ** at the next stop of the world */
    uint32_t pcache_drop;            /* PAGE CACHE: a collection for want of memory
                                     ** asks the next stop to take every run back */
    uint64_t pacer_stack_bytes;      /* stacks at the last pacer update */
    uint64_t pacer_globals_bytes;    /* registered globals, same */
    uint64_t pacer_max_stack_bytes;  /* stack space in use (maxStackScan) now: the sum
                                     ** of procs[].max_stack_bytes, kept by every
                                     ** change of one (heap__proc_set_max_stack) */
    uint64_t limit_gc_after_ns;      /* CLOCK_MONOTONIC; the CPU limiter */
    uint64_t scavenge_goal_bytes;    /* retained bytes to keep; UINT64_MAX = none */
    uint32_t collector;              /* HEAP__COLLECTOR_* */
    uint32_t reserved1;
    uint64_t trigger_bytes;          /* heap_live_bytes that starts a concurrent cycle */

    /* CONCURRENT MARK: the cycle in progress (atomics; set at its start,
    ** with the world stopped) */
    alignas(64) uint32_t mark_cycle; /* number of the cycle being marked */
    uint32_t mark_deaths;            /* proc_deaths when it started */
    uint32_t proc_deaths;            /* processes found dead, ever */
    uint32_t mark_overflow;          /* a local grey queue overflowed */
    uint64_t mark_start_ns;          /* CLOCK_MONOTONIC, the first pause's start */
    uint64_t mark_start_unix_ns;
    uint64_t mark_pause_ns;          /* the first pause (sweep termination) */
    uint64_t mark_stop_ns;           /* of which stopping */
    uint64_t mark_heap_start_bytes;  /* in-use spans at the start */
    uint64_t mark_live_at_start;     /* heap_live_bytes at the start */
    uint64_t mark_trigger_bytes;     /* the pacer's trigger the cycle started at */
    uint64_t mark_alloc_bytes0;      /* total allocated bytes / objects at the start */
    uint64_t mark_alloc_objects0;
    uint64_t mark_live_bytes;        /* greyed so far, flushed by each process */
    uint64_t mark_live_objects;
    uint64_t mark_scan_work;         /* bytes scanned (heap, stacks, globals) */
    uint64_t mark_assist_ns;         /* CPU time in assists */
    uint64_t mark_bg_ns;             /* CPU time of the fractional (background) worker */
    uint64_t mark_idle_ns;           /* CPU time marking while idle */
    uint64_t mark_stack_scan_bytes;  /* stack slots scanned, in bytes */
    uint64_t mark_root_work;         /* of mark_scan_work, the roots' slots (stacks,
                                     ** globals, pools): the rest is Go's heapScanWork */
    uint64_t gc_cpu_total_ns;        /* GC CPU (pauses x procs, assists, workers), ever */
    uint64_t heap_scan_bytes;        /* Go's heapScan: scannable bytes handed out since the
                                     ** last cycle's end, plus what it scanned */
    uint32_t mark_procs;             /* attached processes when it started */
    uint32_t mark_nslots;            /* 1 + the highest entry in use then: the
                                     ** steal queues thieves look at */
    uint64_t mark_steals;            /* steal queue entries taken by another process */

    /* HELPING: a mark with the world stopped, drained by the collector and
    ** the stopped processes (atomics) */
    alignas(64) uint32_t help_gen;   /* != 0: the helped mark in progress */
    uint32_t help_last;              /* the last help_gen handed out */
    uint64_t help_count;             /* busy markers << 32 | entries in steal queues */
    uint32_t help_overflow;          /* a helper's grey stack overflowed */
    uint32_t help_joined;            /* helpers that joined help_gen */
    uint32_t help_woken;             /* the last help_gen whose wake was sent */
    uint32_t help_reserved;
    uint64_t help_live_bytes;        /* greyed by the helpers */
    uint64_t help_live_objects;
    uint64_t help_scan_work;

    /* Go 1.19's pacer (heap_pacer.h): the concurrent collector's trigger,
    ** assist ratio and fractional worker goal */
    alignas(64) heap__pacer_t pacer;

    /* statistics (atomics) */
    uint64_t inuse_pages;
    uint64_t released_pages;         /* free pages given back to the OS */
    uint64_t retired_alloc_bytes;    /* from closed or dead attachments */
    uint64_t retired_alloc_objects;
    uint64_t alloc_bytes_at_gc;      /* total_alloc_bytes when the last sweep ended */
    uint64_t alloc_objects_at_gc;
    uint64_t num_gc;
    uint64_t pause_total_ns;
    uint64_t pause_max_ns;
    uint64_t gc_wall_total_ns;

    /* SCAVENGER: the background scavenger's goal, pace and lease, one per
    ** heap (atomics) */
    alignas(64) uint64_t scav_limit_goal_bytes;  /* mapped bytes to get under; 0 = none */
    uint64_t scav_next_ns;           /* CLOCK_MONOTONIC: no batch starts (or the lease's
                                     ** holder is not looked at) before */
    uint64_t scav_lease;             /* batches begun << 32 | the attach_id of the running
                                     ** batch's holder, 0 when none runs */
    uint32_t scav_wake_seq;          /* bumped by every wake */
    uint32_t scav_reserved;
    uint64_t scav_batches;           /* background batches that released something, ever */
    uint64_t scav_bg_bytes;          /* released by the background scavenger, ever */
    uint64_t scav_sync_bytes;        /* released by the allocator (limit, heap growth), ever */
    uint64_t scav_work_ns;           /* the background scavenger's time, ever */

    /* page heap, under the heap lock */
    alignas(64) uint32_t hwm_page;   /* [first_page, hwm_page) has been spans */
    uint32_t commit_page;            /* pages below are fallocate'd */
    uint32_t sweep_active;           /* LAZY SWEEP in progress (atomic reads) */
    uint32_t sweep_cursor;           /* the next span start to sweep */
    uint32_t sweep_end;              /* hwm_page when the sweep began */
    uint32_t coalesce_needed;        /* spans were freed without merging */
    uint32_t free_epoch;             /* bumped when a span leaves the free lists, is
                                     ** released, or the lists are rebuilt (SCAVENGER's
                                     ** candidates go stale) */
    uint32_t free_reserved;
    uint64_t sweep_pages_swept;      /* pages swept by this sweep (atomic) */
    uint64_t sweep_live_basis;       /* heap_live_bytes when it began */
    uint64_t sweep_ppb_fixed;        /* pages to sweep per byte allocated, 32.32 */
    uint64_t free_nonempty[HEAP__FREE_BUCKETS / 64];
    uint32_t free_head[HEAP__FREE_BUCKETS];

    /* central lists, each under its own lock */
    heap__central_t central[HEAP__NSPANCLASSES];

    /* GC history: a seqlock (odd while written) over the ring */
    alignas(64) uint32_t hist_seq;
    uint32_t hist_count;             /* cycles recorded; entry (c-1) % HISTORY */
    heap_gc_cycle_t hist[HEAP_GC_HISTORY];

    alignas(64) heap__proc_t procs[HEAP_MAX_PROCS];
    /* CONCURRENT MARK: steal queue i belongs to procs[i] */
    heap__steal_q_t steal[HEAP_MAX_PROCS];
} heap__hdr_t;

/* A root stack (and, with kind GLOBALS, a process's globals): an object in
** a noscan span, kept alive while linked from its owner's entry. */
#define HEAP__ROOTS_MAGIC 0x52544f4fu     /* "ROOT" */
#define HEAP__GLOBALS_MAGIC 0x424c4f47u   /* "GLOB" */
#define HEAP__ROOTS_DEAD 0x44454144u      /* "DEAD" */
struct heap_roots {
    heap_ref_t self;          /* this object's ref: segment base = (char *)r - self */
    heap_ref_t next, prev;    /* owner's list (0 = end) */
    uint32_t depth;
    uint32_t capacity;
    uint32_t proc_index;
    uint32_t attach_id;
    uint32_t kind;            /* HEAP__ROOTS_MAGIC / GLOBALS / DEAD */
    uint32_t reserved;
    heap_ref_t slots[];
};

/* A pool area (heap.h, "Pools"): an object in a noscan span, kept alive
** while linked from its owner's pools_head, like a root stack.
**
**   slots: [ half 0: `half` slots ][ half 1: `half` slots ]
**   counts: bit 63 = which half is the primary, bits 32..62 = objects in
**           the victim, bits 0..31 = objects in the primary
**
** A half holds its objects in slots [0, count) of it, oldest first; every
** slot past a half's count is nil. Inside [0, count) a slot may be nil
** (a collector that died mid-rotation), and get skips it. Rotation (the
** collector, world stopped, lock held): clear the victim's slots, then one
** store of `counts` flips the halves -- an object is never in both. */
#define HEAP__POOL_MAGIC 0x4c4f4f50u      /* "POOL" */
#define HEAP__POOL_DEAD 0x44454144u       /* "DEAD" */
struct heap_pool {
    heap_ref_t self;          /* this object's ref */
    heap_ref_t next, prev;    /* owner's pool list (0 = end) */
    uint64_t counts;
    uint32_t half;            /* slots per half, <= HEAP_POOL_MAX_CAPACITY */
    uint32_t proc_index;
    uint32_t attach_id;
    uint32_t kind;            /* HEAP__POOL_MAGIC / DEAD */
    heap_ref_t slots[];       /* 2 * half */
};

/* HEAP PROFILE's two objects. */
#define HEAP__PROF_SITES_MAGIC 0x53544953u     /* "SITS" */
#define HEAP__PROF_SAMPLES_MAGIC 0x504d4153u   /* "SAMP" */
#define HEAP__PROF_OTHER (HEAP_PROF_SITES - 1) /* the site sites past the last go to */
struct heap__prof_sites {
    heap_ref_t self;
    uint32_t kind;            /* HEAP__PROF_SITES_MAGIC */
    uint32_t nsites;          /* sites in use; names below it are written */
    uint64_t gc_cycle;        /* the collection that published gc[]; 0 none */
    heap_prof_site_t sites[HEAP_PROF_SITES];
    /* per site: alloc_objects, alloc_bytes, free_objects, free_bytes as of
    ** the end of collection gc_cycle (Go's published profile) */
    uint64_t gc[HEAP_PROF_SITES][4];
};
struct heap__prof_sample {
    heap_ref_t ref;           /* the sampled object */
    uint64_t bytes;           /* its slot bytes (a large object's pages) */
    uint32_t site;            /* index into prof_sites */
    uint32_t reserved;
};
struct heap__prof_samples {
    heap_ref_t self;
    uint32_t kind;            /* HEAP__PROF_SAMPLES_MAGIC */
    uint32_t capacity;
    uint64_t count;           /* entries in use, <= capacity */
    struct heap__prof_sample samples[];
};

static inline uint32_t heap__pool_primary_half(uint64_t counts)
{
    return (uint32_t)(counts >> 63);
}
static inline uint32_t heap__pool_primary_count(uint64_t counts)
{
    return (uint32_t)counts;
}
static inline uint32_t heap__pool_victim_count(uint64_t counts)
{
    return (uint32_t)(counts >> 32) & 0x7fffffffu;
}
static inline uint64_t heap__pool_counts(uint32_t primary_half, uint32_t primary,
                                         uint32_t victim)
{
    return (uint64_t)primary_half << 63 | (uint64_t)victim << 32 | primary;
}

/* ---- Process-local state -------------------------------------------- */

/* One cached span per span class. free_bits holds the slots of
** [bits_base, bits_base + 64) not yet handed out (1 = free). */
typedef struct heap__mcache {
    uint64_t free_bits;
    uint64_t span_off;        /* byte offset of the span's first slot */
    uint32_t bits_base;
    uint32_t elem_bytes;
    uint32_t span;            /* start page, 0 = none */
    uint16_t nelems;
    uint16_t needzero;
} heap__mcache_t;

/* Test-only fault points (heap__set_fault_hook). */
enum {
    HEAP__FP_REFILL_LOCKED = 1,   /* holding a central lock in a span refill */
    HEAP__FP_PAGE_SPLIT,          /* holding the lock, mid page-heap split */
    HEAP__FP_STOP_WAIT,           /* collector, waiting for the stop */
    HEAP__FP_MARK,                /* collector, mid mark (lock held) */
    HEAP__FP_SWEEP,               /* collector, mid sweep (lock held) */
    HEAP__FP_ROOTS_LINK,          /* holding the lock, linking a root stack */
    HEAP__FP_PARKED,              /* parked, waiting for the world */
    HEAP__FP_CENTRAL_POP,         /* central lock, span half taken off the list */
    HEAP__FP_CENTRAL_PUSH,        /* central lock, span linked, owner not yet 0 */
    HEAP__FP_FRESH_SPAN,          /* heap lock, fresh span for a refill */
    HEAP__FP_SCAVENGE,            /* heap lock, a free span split to release */
    HEAP__FP_MARK_START,          /* every lock, world stopped, a concurrent mark begun */
    HEAP__FP_ROOT_SCAN,           /* greying this process's roots (concurrent mark) */
    HEAP__FP_ASSIST,              /* paying an assist with mark work */
    HEAP__FP_BARRIER,             /* in the write barrier, shading */
    HEAP__FP_MARK_TERM,           /* every lock, world stopped, mark terminated */
    HEAP__FP_SCAVENGE_BG,         /* background scavenger: heap lock, pages punched, span
                                  ** not yet flagged released (and, no lock, holding a
                                  ** batch's lease between quanta) */
    HEAP__FP_STEAL_PUBLISH,       /* slots of its steal queue written, tail not yet */
    HEAP__FP_STEAL_TAKEN,         /* entries taken from a steal queue, not yet queued here */
    HEAP__FP_MARK_IDLE,           /* marking in heap_mark_idle() */
    HEAP__FP_HELP,                /* stopped, helping the collector mark */
    HEAP__FP_PCACHE_CUT,          /* no lock, a span half cut from the cached run */
    HEAP__FP_SWEEP_BEGUN,         /* every lock, world stopped, a concurrent cycle's lazy
                                  ** sweep begun, the cycle not yet closed */
};
typedef void (*heap__fault_fn)(void *arg, int point);

/* Mark stack entry: a grey object and its slots: exact (a large object),
** or, with HEAP__MARK_FROM_MAP set, the most its slot can hold (the run in
** the pointer map is read when it is scanned, and capped at that). */
#define HEAP__MARK_FROM_MAP (1ull << 63)
struct heap__mark_entry {
    heap_ref_t ref;
    uint64_t nptrs;
};

struct heap {
    struct heap__view view;         /* must be first: heap.h's inline helpers */
    heap__hdr_t *hdr;
    uint32_t *page_map;
    heap__span_t *spans;
    uint64_t *ptr_map;              /* the pointer map (OBJECTS) */
    heap__proc_t *proc;             /* this process's entry */
    uint32_t proc_index;
    uint32_t attach_id;
    pid_t pid;
    pthread_t thread;               /* the one thread that uses it (heap.h) */
    bool entered;                   /* RUNNING (or PARKED inside a safepoint) */
    bool limiter_off;               /* heap__set_limiter(h, false): tests */
    uint32_t cache_epoch;           /* hdr->cache_epoch the mcache belongs to */
    heap__mcache_t mcache[HEAP__NSPANCLASSES];
    uint8_t class_small[1024 / 8 + 1];            /* (need + 7) >> 3 -> class */
    uint8_t class_large[(32768 - 1024) / 128 + 1]; /* (need - 1024 + 127) >> 7 */

    heap_gc_hook_fn gc_hook;
    void *gc_hook_arg;
    heap_stack_runner_fn stack_run;   /* heap_set_stack_runner */
    heap_stack_scan_fn stack_scan;    /* heap_set_stack_scan */
    void *stack_scan_arg;
    void *stack_ctx;
    bool on_system_stack;             /* inside a slow path run through it */
    bool pcache_on;                   /* PAGE CACHE: not HEAPSIM_PAGE_CACHE=0 at heap_open */

    /* HEAP PROFILE: this process's sampling */
    uint64_t prof_rate;             /* 0 = off */
    uint64_t prof_left;             /* bytes to the next sample; UINT64_MAX when off */
    uint64_t prof_due;              /* set by count_alloc: slot bytes of a sample due */
    uint64_t prof_rng;              /* SplitMix64 state */
    const char *prof_last_site;     /* a one-entry cache: site pointer -> index */
    uint32_t prof_last_index;
    const char *prof_site_ptrs[HEAP_PROF_SITES];   /* site pointers, by index */
    heap__fault_fn fault_fn;
    void *fault_arg;

    /* SCAVENGER: the highest free unreleased spans this process found
    ** (ascending), valid while hdr->free_epoch == scav_epoch; rebuilt at
    ** each batch's start. scav_no_sleep: tests (heap__set_scavenge_sleep). */
    uint32_t scav_cand[HEAP__SCAV_CANDIDATES];
    uint32_t scav_ncand;
    uint32_t scav_epoch;
    bool scav_no_sleep;

    /* heap_interrupt(): view.stw_word points at interrupt_word (1) while
    ** interrupt_pending; the poll's slow path points it back at hdr->stw
    ** (and does so whenever nothing is pending, so a race of the two ends
    ** with the word restored) before calling interrupt_fn. */
    heap_interrupt_fn interrupt_fn;
    void *interrupt_arg;
    uint32_t interrupt_word;
    uint32_t interrupt_pending;

    /* The central locks this attachment holds, one bit per span class:
    ** kept by debug builds only, to assert THE LOCKS' order. */
    uint64_t central_held[(HEAP__NSPANCLASSES + 63) / 64];

    /* collector scratch (this process only) */
    struct heap__mark_entry *mark_stack;
    size_t mark_len, mark_cap, mark_limit;
    bool mark_overflow;
    /* CONCURRENT MARK, this process's share */
    uint32_t mark_cycle;            /* the cycle the figures below belong to */
    uint64_t mark_live_bytes;       /* greyed here, not yet flushed to the header */
    uint64_t mark_live_objects;
    uint64_t mark_scan_work;
    uint64_t mark_join_ns;          /* when this process joined the mark */
    uint64_t mark_bg_ns;            /* its background worker's time so far */
    int64_t assist_debt;            /* scan work owed (> 0) or credit (< 0) */
    uint32_t mark_polls;
    bool at_schedpoint;             /* the poll is heap_schedpoint()'s */
    uint64_t term_check_ns;         /* last time a termination check failed */
    bool mark_share;                /* offer work in its steal queue this cycle */
    uint64_t mark_greyed_total;     /* tests: objects this attachment greyed, ever */
    uint64_t mark_stolen_total;     /* tests: entries it took from others' queues */
    uint32_t help_test_helpers;     /* tests: heap__set_help_test */
    uint32_t help_done_gen;         /* the last helped mark it helped (HELPING) */
    uint64_t help_wakes_missed;     /* tests: parked sleeps that timed out although a
                                    ** helped mark it had not helped was opened and
                                    ** its wake sent before the sleep began */

    int fd;
    size_t map_bytes;
    char name[256];
};

/* ---- Helpers shared between the module's files ---------------------- */

/* Read one byte of every `step`-aligned window (a power of two) of
** [off, off + bytes) of the segment, so that this process's page table
** maps those pages before it writes there, outside any pause (refill,
** heap_open). A page another process touched already is in the segment's
** page cache, and one read fault maps the present pages around it (the
** kernel's fault-around, 64 KiB by default). A page fallocate committed
** but nobody touched yet is not up to date: fault-around skips it, and
** each such page takes a fault of its own (a step of 4 KiB maps them all). */
static inline void heap__prefault(const heap_t *h, uint64_t off, uint64_t bytes, uint64_t step)
{
    const volatile char *base = (const volatile char *)h->view.base;
    for (uint64_t o = off; o < off + bytes; o = (o | (step - 1)) + 1)
        (void)base[o];
}

static inline heap__span_t *heap__span(heap_t *h, uint32_t page)
{
    return &h->spans[page];
}

static inline uint64_t heap__atomic_load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void heap__atomic_store(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void heap__fault(heap_t *h, int point)
{
    if (__builtin_expect(h->fault_fn != NULL, 0))
        h->fault_fn(h->fault_arg, point);
}

/* The pointer map (OBJECTS): record that the object at word `word` (its
** offset / 8) has nptrs >= 1 leading reference slots, in a slot of
** slot_words words. */
void heap__ptr_map_set_slow(uint64_t *map, uint64_t word, uint64_t nptrs,
                            uint64_t slot_words);
static inline void heap__ptr_map_set(uint64_t *map, uint64_t word, uint64_t nptrs,
                                     uint64_t slot_words)
{
    uint64_t bit = word & 63;
    if (__builtin_expect(bit + nptrs < 64, 1)) {
        uint64_t *w = &map[word >> 6];
        uint64_t ones = ((1ull << nptrs) - 1) << bit;
        uint64_t stop = nptrs < slot_words ? 1ull << (bit + nptrs) : 0;
        *w = (*w & ~stop) | ones;
        return;
    }
    heap__ptr_map_set_slow(map, word, nptrs, slot_words);
}

/* The object at word `word`'s reference slots: the run of ones from its
** first bit, at most max_ptrs. */
static inline uint64_t heap__ptr_map_count(const uint64_t *map, uint64_t word,
                                           uint64_t max_ptrs)
{
    uint64_t n = 0;
    while (n < max_ptrs) {
        uint64_t at = word + n;
        uint64_t rest = ~(map[at >> 6] >> (at & 63));   /* ones past bit 63-k */
        uint64_t run = rest ? (uint64_t)__builtin_ctzll(rest) : 64;
        n += run;
        if (run < 64 - (at & 63))
            break;
    }
    return n < max_ptrs ? n : max_ptrs;
}

uint64_t heap__now_ns(int clock_id);

/* The heap lock (repairing what a dead holder left) / unlock. */
void heap__lock(heap_t *h);
void heap__unlock(heap_t *h);
void heap__repair_locked(heap_t *h);
/* Central lock of span class spc (repairing its list) / unlock. May be
** taken with the heap lock held, never the other way round. */
void heap__central_lock(heap_t *h, uint32_t spc);
void heap__central_unlock(heap_t *h, uint32_t spc);
void heap__central_repair_locked(heap_t *h, uint32_t spc);
/* Every lock, in order (collector, heap_verify) / all of them released. */
void heap__lock_world(heap_t *h);
void heap__unlock_world(heap_t *h);

/* Is pid gone? Without `deep` only kill(pid, 0) == ESRCH counts; `deep`
** also reads /proc (a few microseconds) to catch a zombie or a reused pid
** (start_ticks, from /proc/<pid>/stat, 0 = unknown). */
bool heap__pid_dead(pid_t pid, uint64_t start_ticks, bool deep);
/* Process entry p (in `state`) is taken and its process gone: marked DEAD,
** or its pid dead (the quick check). What a stop reclaims. */
bool heap__proc_gone(const heap__proc_t *p, uint32_t state);
uint64_t heap__pid_start_ticks(pid_t pid);

/* Futex on a word in the segment (not private: other processes wake it). */
int heap__futex_wait(uint32_t *word, uint32_t expect, uint64_t timeout_ns);
void heap__futex_wake(uint32_t *word);

/* ---- Page heap (heap_page.c), all under the heap lock --------------- */

/* Take npages for a new span at *page_out. *needzero_out says whether the
** pages may hold old bytes. Returns 0 or HEAP_EOOM (nothing changed). */
int heap__pages_alloc(heap_t *h, uint32_t npages, uint32_t *page_out,
                      bool *needzero_out);
/* PAGE CACHE. A span of a few pages is cut from the front of the
** allocating process's cached run (up to HEAP__PCACHE_PAGES pages, taken
** from the page heap under the heap lock), without the lock: Go's per-P
** pageCache, which spares its allocSpan the heap lock. Two processes
** allocating small spans took the heap lock once per span, half a million
** times in a multiproc run; now about once per 64 pages.
**
** The run is a span of state CACHED owned by the process (proc->pcache
** names it). Cutting: the rest's header is written (CACHED, same owner),
** proc->pcache moves to it, then the front's npages shrinks (release): a
** walker under the heap lock stepping by npages sees the whole run or both
** parts, never a gap. The cut span stays CACHED, its page map 0, until its
** init publishes it SMALL or LARGE. CACHED pages are neither free (no free
** list, the scavenger and the coalescer pass them by) nor in use
** (inuse_pages counts a span when it is cut, as Go's heapInUse does).
** On unless HEAPSIM_PAGE_CACHE=0 is set when a process opens the heap
** (each process decides for itself; with it every span comes from the
** page heap under the heap lock, made CACHED there and published by its
** init after the lock).
**
** A process's run goes back to the free lists when it takes a new one,
** and on heap_close; a dead process's CACHED spans (its run and any span
** cut but not yet published) when it is retired, and in a repair walk;
** every run at the stop after a collection for want of memory.
** Walkers beside cutting processes (a repair walk, sweep batches, the
** coalescer, a reclaim at attach) load a span's state before its npages
** and pass over a span seen CACHED. A death mid-cut, or a repair walk
** beside a cut, can leave inuse_pages a span off: inuse_recount asks the
** next stop of the world (reclaim_dead, heap_verify) to count it again. */

/* npages for a new span: from the cached run when it can, else under the
** heap lock (a new run, or the page heap directly for a long span). The
** span comes back CACHED, owned by this process, npages set, to be made
** SMALL or LARGE by heap__span_init_* (the caller's, no lock needed).
** Called without the heap lock. 0 or HEAP_EOOM (nothing changed). */
int heap__pcache_alloc(heap_t *h, uint32_t npages, uint32_t *page_out, bool *needzero_out);
/* Every CACHED span owned by attach_id back to the free lists (heap lock
** held; the owner is gone or is the caller, leaving). With the world
** stopped, the in-use count is recounted from the spans: an owner killed
** half way through a cut leaves it unknown whether that span was counted. */
void heap__pcache_reclaim_locked(heap_t *h, uint32_t attach_id, bool world_stopped);
/* Every process's run back to the free lists (heap lock held, world
** stopped) if hdr->pcache_drop asks: a collection for want of memory
** (heap__collect, HEAP__GC_BY_OOM) sets it, and the next stop, whichever
** process makes it, takes the pages caches hold. */
void heap__pcache_drop_all_locked(heap_t *h);
/* Count inuse_pages again from the spans (heap lock held, world stopped,
** so no span is half way through a cut), if hdr->inuse_recount asks. */
void heap__inuse_recount_locked(heap_t *h);

/* Make spans[page] an empty SMALL span of span class spc, owned by owner. */
void heap__span_init_small(heap_t *h, uint32_t page, uint32_t spc,
                           uint32_t owner, bool needzero);
void heap__span_init_large(heap_t *h, uint32_t page, uint32_t npages,
                           uint64_t bytes, uint32_t nptrs, bool needzero);

/* SCAVENGER, the allocator's: release free spans, highest first, until
** `bytes` more are released or none is left. Heap lock held. Returns bytes
** released. */
uint64_t heap__scavenge_locked(heap_t *h, uint64_t bytes);
/* The background scavenger: wake it (HEAP__POLL_SCAVENGE) if a goal is
** unmet. Any lock or none. */
void heap__scavenge_wake(heap_t *h);
/* A safepoint of an entered process with the world running, no lock
** held: run a batch if the scavenger has work and it is due (and nobody
** else runs one). */
void heap__scavenge_poll(heap_t *h);
/* Tests: whether this process's batches sleep afterwards (on by default).
** Off, every due poll runs a batch: a test bounds polls, not time. */
void heap__set_scavenge_sleep(heap_t *h, bool on);
/* Retained heap bytes now: in-use + free unreleased span pages. */
uint64_t heap__retained_bytes(const heap__hdr_t *hdr);
/* Mapped memory as PACING counts it (released pages excluded). */
uint64_t heap__mapped_bytes(const heap__hdr_t *hdr);

/* Walk every span from first_page to hwm_page rebuilding the free lists,
** the central lists and the in-use count. Every lock held. */
enum {
    HEAP__WALK_SWEEP = 1,        /* sweep each in-use span first (collector) */
    HEAP__WALK_REPAIR = 2,       /* recompute counts, fix the page map */
    HEAP__WALK_CLEAR_MARKS = 4,  /* clear every mark bit */
};
typedef struct heap__sweep_stats {
    uint64_t objects_freed;
    uint64_t spans_freed;
} heap__sweep_stats_t;
void heap__walk(heap_t *h, int flags, heap__sweep_stats_t *st);

/* LAZY SWEEP (the concurrent collector): mark termination only begins a
** sweep (heap__sweep_begin_locked: sweepgen moves on, so every in-use span
** is unswept, and the central lists are emptied, since unswept spans must
** not be allocated from). Spans are then swept in address order from
** sweep_cursor by whoever asks: refills before they take a span, and
** processes at safepoints, a batch at a time under the heap lock (Go's
** proportional and background sweepers). A swept span with room goes on
** its central list; spans found empty are freed, consecutive ones as one
** run, without merging with older free neighbours: the sweep that ends
** coalesces the free lists (heap__coalesce_locked). The next cycle, a
** stop-the-world cycle and heap_verify finish what is left first. */
void heap__sweep_begin_locked(heap_t *h);
/* After the pacer has set the next trigger: the proportional sweep's
** rate (heap__sweep_credit). */
void heap__sweep_pace_locked(heap_t *h);
/* Sweep at most max_spans unswept spans (takes the heap lock). Returns
** how many it swept; 0 when there is no sweep. */
uint32_t heap__sweep_some(heap_t *h, uint32_t max_spans);
/* The same, stopping as soon as span class spc has a swept span on its
** central list: one heap lock for what was a refill's batches of eight. */
uint32_t heap__sweep_for_class(heap_t *h, uint32_t spc, uint32_t max_spans);
/* Go's proportional sweep (deductSweepCredit): before handing out
** `bytes` more, sweep until the pages swept keep pace with the bytes
** allocated since the sweep began, so that it is done by the next
** trigger. Takes the heap lock when it sweeps. */
void heap__sweep_credit(heap_t *h, uint64_t bytes);
/* Sweep everything left (heap lock held, and every central lock or none:
** `centrals_held` says which). */
void heap__sweep_finish_locked(heap_t *h, bool centrals_held);
/* Merge neighbouring free spans and rebuild the free lists (heap lock
** held; central lists untouched). */
void heap__coalesce_locked(heap_t *h);

/* Allocated slots of a span, from freeindex and the alloc bitmap. */
uint32_t heap__span_count_allocated(const heap__span_t *sp);
bool heap__span_slot_allocated(const heap__span_t *sp, uint32_t idx);

/* ---- Heap profile (heap_prof.c) ------------------------------------ */

/* Record the object `ref` of `bytes` as a sample of `site` and draw the
** next interval. Inside the heap, between safepoints. */
void heap__prof_record(heap_t *h, heap_ref_t ref, uint64_t bytes, const char *site);
/* HEAP PROFILE's walk: count the samples whose objects are unmarked as
** freed and drop them. After marking, before the sweep (world stopped,
** every lock held). */
void heap__prof_sweep_locked(heap_t *h, uint64_t cycle);

/* Run fn(arg) through the stack runner (heap_set_stack_runner), or right
** here when there is none or this is already on it. */
static inline void heap__systemstack(heap_t *h, void (*fn)(void *arg), void *arg)
{
    if (h->stack_run == NULL || h->on_system_stack) {
        fn(arg);
        return;
    }
    h->on_system_stack = true;
    h->stack_run(h->stack_ctx, fn, arg);
    h->on_system_stack = false;
}
/* Whether a slow path should switch stacks first. */
static inline bool heap__off_system_stack(const heap_t *h)
{
    return h->stack_run != NULL && !h->on_system_stack;
}

/* Is attach_id a live attachment (state != FREE/DEAD)? */
bool heap__attach_live(heap_t *h, uint32_t attach_id);

/* ---- Allocation (heap_alloc.c) -------------------------------------- */

/* Size class for an object of `need` bytes (0 bytes take the smallest
** class), 0 if large. */
static inline uint32_t heap__size_class(const heap_t *h, uint64_t need)
{
    if (need <= 1024)
        return h->class_small[(need + 7) >> 3];
    if (need <= HEAP_MAX_SMALL_BYTES)
        return h->class_large[(need - 1024 + 127) >> 7];
    return 0;
}

/* Bytes an object occupies in the heap (its size class, or whole pages),
** as counted in every statistic; used by the tests to model them. */
uint64_t heap__footprint_bytes(heap_t *h, uint32_t nptrs, size_t scalar_bytes);

/* Write back this process's cached freeindexes (before OUTSIDE/PARKED). */
void heap__mcache_writeback(heap_t *h);
/* Give the cached spans back to the central lists (takes each central
** lock; the heap lock may be held). */
void heap__mcache_flush(heap_t *h);
/* Forget the cache if a sweep took it (cache_epoch moved). */
void heap__mcache_revalidate(heap_t *h);

/* Allocate an object under the heap lock without the mcache (root stacks).
** Not counted in the allocation statistics. Returns 0 on HEAP_EOOM. */
heap_ref_t heap__alloc_direct_locked(heap_t *h, uint64_t bytes);

/* ---- Collector (heap_gc.c) ------------------------------------------ */

/* Own the world: CAS stw, wait until every other process stops. Waits for
** (or recovers) another owner first. Lock not held. *t_request_out is when
** stw was taken (CLOCK_MONOTONIC), *stop_ns_out how long the stop took. */
void heap__world_stop(heap_t *h, uint64_t *t_request_out, uint64_t *stop_ns_out);
/* Release the world and wake everyone. */
void heap__world_start(heap_t *h);
/* Block while the world is owned by another process; recovers a dead
** owner. The caller's state is PARKED or OUTSIDE. */
void heap__wait_world(heap_t *h);
/* Set state RUNNING with the Dekker check, waiting out any stop. */
void heap__become_running(heap_t *h);

/* Why a collection runs. BY_PACER: if another process owns the world this
** one just parks until it is done (one collection is enough). The others
** wait for the world and always run a cycle of their own. */
enum {
    HEAP__GC_BY_PACER = 0,
    HEAP__GC_BY_OOM = 1,
    HEAP__GC_BY_USER = 2,       /* heap_collect(): reported as forced */
    HEAP__GC_BY_RECOVERY = 3,   /* the previous owner of the world died */
};
int heap__collect(heap_t *h, int why);

/* Pacer: should a refill that would add `more_bytes` collect first? */
bool heap__over_trigger(heap_t *h, uint64_t more_bytes);
/* Recompute the GOGC goal, stacks and globals (lock held). */
void heap__pacer_update_locked(heap_t *h);
/* The goal now: min(GOGC goal, limit goal); UINT64_MAX if neither. */
uint64_t heap__goal_bytes(heap_t *h);
/* The memory limit's goal now (PACING); UINT64_MAX without a limit. */
uint64_t heap__limit_goal_bytes(heap_t *h);
/* Set p->max_stack_bytes to inuse_bytes and hdr->pacer_max_stack_bytes
** by the difference (atomics, any process: only p's owner, or the
** process reclaiming p, writes p's figure). */
void heap__proc_set_max_stack(heap__hdr_t *hdr, heap__proc_t *p, uint64_t inuse_bytes);
/* Bytes of the segment's metadata backing committed pages. */
uint64_t heap__metadata_bytes(const heap__hdr_t *hdr);

/* CONCURRENT MARK. Allocate black: set the mark bit of slot idx of sp (a
** new object) while a concurrent mark runs. Other processes may set other
** bits of the same word, hence the atomic or. */
static inline void heap__mark_new(heap__span_t *sp, uint32_t idx)
{
    uint64_t *w = &sp->bits[(sp->sweep_word & 1) ^ 1][idx >> 6];
    __atomic_fetch_or(w, 1ull << (idx & 63), __ATOMIC_RELAXED);
}
/* A refill of `bytes` during a concurrent mark: charge the assist those
** bytes cost (Go's assist ratio) and pay it with mark work now. Outside
** every lock. */
void heap__mark_assist_charge(heap_t *h, uint64_t bytes);
/* Join the concurrent mark if one runs (refresh the barrier flag, scan
** this process's roots once per cycle). After becoming RUNNING. */
void heap__mark_join(heap_t *h);

/* Heap in use (HeapAlloc) and objects now. */
void heap__alloc_now(heap_t *h, uint64_t *bytes, uint64_t *objects);

/* Reclaim entry i of a dead (or closing) process: drop its roots, fold
** its counters (lock held). */
void heap__proc_retire_locked(heap_t *h, uint32_t i);

/* Rotate the pool areas of every attached process (heap.h, "Pools"):
** the collector, world stopped, lock held, before marking. */
void heap__pools_rotate_locked(heap_t *h);
/* Is ref a live pool area of process i? (lock held or world stopped) */
bool heap__pool_valid(heap_t *h, heap_ref_t ref, uint32_t i);

/* Validate a reference: 0 if it names an allocated object. */
int heap__check_ref(heap_t *h, heap_ref_t ref, bool allow_orphan_slot,
                    char *why, size_t whysize);

/* Test hooks. */
void heap__set_fault_hook(heap_t *h, heap__fault_fn fn, void *arg);
void heap__set_mark_stack_limit(heap_t *h, size_t entries);
/* Tests: whether this attachment's limit-driven collections wait for the
** CPU limiter (PACING; on by default). Off, the limit goal alone decides,
** so a test can bound the heap without depending on how long pauses take
** on a loaded machine. */
void heap__set_limiter(heap_t *h, bool on);
/* Tests: drive a concurrent mark by hand. heap__mark_begin() starts one
** (0; -EINVAL: not entered or not the concurrent collector; -EAGAIN: it
** did not start); heap__mark_step() does at most `work` scan bytes of this
** process's grey queue and returns what it did; heap__mark_end() ends the
** mark (termination, sweep). The polls and assists still run as usual. */
int heap__mark_begin(heap_t *h);
uint64_t heap__mark_step(heap_t *h, uint64_t work);
/* Tests: objects this attachment greyed, and steal-queue entries it took
** from other processes' queues, since it attached (every cycle). */
void heap__mark_counts(heap_t *h, uint64_t *greyed, uint64_t *stolen);
/* Tests: this attachment's next helped mark (HELPING) waits until
** `helpers` stopped processes joined, and until the first work it offered
** was taken, so that a test knows the helpers had work (0: off). One
** helped mark only: set it again before the next. */
void heap__set_help_test(heap_t *h, uint32_t helpers);
/* Tests: this attachment's parked sleeps that slept through the wake of
** a helped mark (help_wakes_missed): 0 when no wake is lost. */
uint64_t heap__help_wakes_missed(heap_t *h);
bool heap__mark_running(heap_t *h);
void heap__mark_end(heap_t *h);

#endif
