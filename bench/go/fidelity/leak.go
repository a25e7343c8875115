package main

// leak: kernels/leak.c (the leaks lesson). Requests are handled by
// goroutines, 64 at a time (the main goroutine spawns a batch and waits for
// it). A handler allocates its request (one reference slot and its id: 16
// B) pointing at a payload of request_bytes, and yields once (the batch's
// requests overlap). retain_percent of the requests, spread evenly, keep
// something:
//
//	mode table: the request goes into a global table (a pointer array,
//	64 slots, doubled when full); with release, the handler's deferred
//	cleanup takes it out again (its slot is reused).
//	mode goroutines: the handler starts a watcher goroutine holding the
//	request and blocked in `<-done` (done made by the handler,
//	unbuffered); with release the handler does `defer close(done)`.
//
// After the loop: runtime.GC() (forced, as the kernel's heap_collect), the
// live heap (HeapAlloc after it: the marked bytes) and in mode goroutines
// the stack bytes of the watchers still blocked (StackInuse growth since
// before the loop). Then the kernel returns and the program ends with the
// leaked watchers still blocked, as kernels/leak.c's task does since its
// main goroutine's return ends it (goroutines_end counts them, main
// included).

import (
	"flag"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

type leakRequest struct {
	payload *byte
	id      int64
}

var leakSink [64]*leakRequest // handlers' requests: heap objects, as in heapsim

// leakJob is the kernel's leak_job_t: one per handler of a batch, reused
// by the next batch, outside the heap (a global here, malloc'd state
// there). Handlers and watchers are started as `go leakRunHandler(job)`:
// one pointer, so Go's go-statement closure is 16 B, as heapsim's.
type leakJob struct {
	handler, watcher func(*leakJob)
	j                int
	id               int64
	retain           bool
	req              *leakRequest  // handed to the watcher
	done             chan struct{} // handed to the watcher
	taken            int32         // the watcher has taken req and done
}

var leakJobs [64]leakJob

func leakRunHandler(job *leakJob) { job.handler(job) }
func leakRunWatcher(job *leakJob) { job.watcher(job) }

func init() {
	kernelDefs["leak"] = kernelDef{
		doc: "a request loop keeping a share of its requests (table or blocked goroutines)",
		define: func(fs *flag.FlagSet) func(*probe, uint64) {
			requests := fs.Int64("requests", 200000, "requests handled, 64 goroutines at a time")
			requestBytes := sizeFlag(fs, "request_bytes", 1024, "payload allocated per request")
			retainPercent := fs.Float64("retain_percent", 10, "share of the requests that keep something")
			release := fs.Bool("release", false, "a deferred cleanup releases it when its handler ends")
			mode := fs.String("mode", "table", "table or goroutines")
			return func(p *probe, seed uint64) {
				const concurrency = 64
				goroutines := *mode == "goroutines"
				if !goroutines && *mode != "table" {
					fail("leak: mode must be table or goroutines")
				}
				var table []*leakRequest
				var freeSlots []uint32
				var used uint32
				var held, retainedTotal int64
				var watchers, closing int64 // watchers not ended; of them, released
				stack0 := p.stackInuse()

				tablePut := func(req *leakRequest) uint32 {
					var slot uint32
					if n := len(freeSlots); n > 0 {
						slot = freeSlots[n-1]
						freeSlots = freeSlots[:n-1]
					} else {
						if int(used) == len(table) {
							c := 2 * len(table)
							if c == 0 {
								c = 64
							}
							p.alloc(uint64(c) * 8)
							t := make([]*leakRequest, c)
							copy(t, table)
							table = t
							fs := make([]uint32, len(freeSlots), c)
							copy(fs, freeSlots)
							freeSlots = fs
						}
						slot = used
						used++
					}
					table[slot] = req
					held++
					retainedTotal++
					return slot
				}
				watcher := func(job *leakJob) {
					req, done := job.req, job.done
					atomic.StoreInt32(&job.taken, 1) // job is the next batch's from here on
					<-done                           // only a close comes
					atomic.AddInt64(&closing, -1)
					runtime.KeepAlive(req)
					atomic.AddInt64(&watchers, -1)
				}
				var batch sync.WaitGroup
				handler := func(job *leakJob) {
					j, id, retain := job.j, job.id, job.retain
					defer batch.Done()
					p.alloc(16)
					req := &leakRequest{id: id}
					leakSink[j] = req
					p.alloc(uint64(*requestBytes))
					payload := make([]byte, *requestBytes)
					req.payload = &payload[0]
					*(*byte)(unsafe.Pointer(&payload[0])) = byte(id)
					if retain && goroutines {
						done := make(chan struct{})
						retainedTotal++
						atomic.AddInt64(&watchers, 1)
						job.req, job.done = req, done
						atomic.StoreInt32(&job.taken, 0)
						go leakRunWatcher(job)
						for atomic.LoadInt32(&job.taken) == 0 {
							runtime.Gosched() // the kernel waits until its watcher runs
						}
						if *release {
							defer func() {
								atomic.AddInt64(&closing, 1)
								close(done)
							}()
						}
					} else if retain {
						slot := tablePut(req)
						if *release {
							defer func() {
								table[slot] = nil
								freeSlots = append(freeSlots, slot)
								held--
							}()
						}
					}
					runtime.Gosched()
					leakSink[j] = nil
				}

				share := 0.0
				for next := int64(0); next < *requests; {
					n := *requests - next
					if n > concurrency {
						n = concurrency
					}
					batch.Add(int(n))
					for j := int64(0); j < n; j++ {
						share += *retainPercent
						retain := share >= 100
						if retain {
							share -= 100
						}
						leakJobs[j] = leakJob{handler: handler, watcher: watcher,
							j: int(j), id: next + j, retain: retain}
						go leakRunHandler(&leakJobs[j])
					}
					next += n
					batch.Wait()
				}
				for atomic.LoadInt64(&closing) > 0 {
					runtime.Gosched()
				}
				p.gc()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				p.set("live_bytes_end", ms.HeapAlloc)
				if goroutines {
					held = atomic.LoadInt64(&watchers)
					stack := int64(p.stackInuse()) - int64(stack0)
					if stack < 0 {
						stack = 0
					}
					p.set("leaked_goroutines", held)
					p.set("leaked_stack_bytes", stack)
				} else {
					p.set("table_slots", len(table))
				}
				p.set("retained_objects", held)
				p.set("retained_total", retainedTotal)
				runtime.KeepAlive(table)
			}
		},
	}
}
