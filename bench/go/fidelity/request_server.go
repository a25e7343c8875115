package main

// request_server: kernels/request_server.c (the pool lesson, second task).
// Open loop: request i is due at a time fixed in advance (poisson or
// uniform gaps of mean 1/rate s); the main goroutine sleeps until 200 us
// before it, then yields until it is due, and spawns its handler. A
// handler allocates objects_per_request objects of object_bytes (two
// reference slots, to the previous object and the one before, then
// scalars; its id in the first word), yielding half-way; then a response
// buffer of buffer_bytes (new, or from a sync.Pool), written; stores its
// graph in a cache of the last cache_requests requests (a pointer array),
// checks graph and buffer (each object's id, and its second slot equal to
// its predecessor's first), returns the buffer to the pool, and records
// its latency (arrival to completion). Prints the latency percentiles the
// kernel reports (latency_p50_ns ... latency_max_ns, nearest rank, exact:
// heapsim's histogram buckets are 0.78 % wide) beside the memory figures;
// bench/request_server.sh compares them, with -peak_samples=false so
// that the probe's heap sampling adds no work to the handlers.

import (
	"flag"
	"math"
	"runtime"
	"sort"
	"sync"
	"time"
	"unsafe"
)

func init() {
	kernelDefs["request_server"] = kernelDef{
		doc: "an open-loop service allocating a graph per request, optional pool",
		define: func(fs *flag.FlagSet) func(*probe, uint64) {
			rate := fs.Float64("rate", 2000, "requests per second")
			requests := fs.Int64("requests", 6000, "requests in all")
			arrivals := fs.String("arrivals", "poisson", "poisson or uniform")
			objects := fs.Int64("objects_per_request", 32, "objects in each request's graph")
			objectBytes := sizeFlag(fs, "object_bytes", 128, "size of each graph object")
			bufferBytes := sizeFlag(fs, "buffer_bytes", 32768, "response buffer")
			cacheRequests := fs.Int64("cache_requests", 4000, "graphs kept live")
			usePool := fs.Bool("pool", false, "buffers from a sync.Pool")
			return func(p *probe, seed uint64) {
				const slotsPer = 2
				scalars := uint64(*objectBytes) - slotsPer*8
				objectType(slotsPer, scalars)
				p.restart()
				nb := uint64(*bufferBytes)
				var pool sync.Pool
				var cache []unsafe.Pointer
				if *cacheRequests > 0 {
					p.alloc(uint64(*cacheRequests) * 8)
					cache = make([]unsafe.Pointer, *cacheRequests)
				}
				latency := make([]int64, *requests)
				var wg sync.WaitGroup
				var mu sync.Mutex
				var buffersNew, buffersReused int64
				handler := func(id int64, due time.Time) {
					defer wg.Done()
					var last unsafe.Pointer
					for i := int64(0); i < *objects; i++ {
						obj := newObject(p, slotsPer, scalars)
						s := slots(obj, slotsPer)
						s[0] = last
						if last != nil {
							s[1] = slots(last, slotsPer)[0]
						}
						if scalars >= 8 {
							words(obj, slotsPer, 1)[0] = uint64(id)
						}
						last = obj
						if i == *objects/2 {
							runtime.Gosched()
						}
					}
					var buf unsafe.Pointer
					if nb > 0 {
						if *usePool {
							if v := pool.Get(); v != nil {
								buf = unsafe.Pointer(v.(*byte))
								buffersReused++
							}
						}
						if buf == nil {
							buf = newObject(p, 0, nb)
							buffersNew++
						}
						b := data(buf, 0, nb)
						for k := range b {
							b[k] = byte(id*29 + 3)
						}
					}
					if cache != nil {
						cache[id%*cacheRequests] = last
					}
					n := int64(0)
					for o := last; o != nil; o = slots(o, slotsPer)[0] {
						if scalars >= 8 && words(o, slotsPer, 1)[0] != uint64(id) {
							fail("request_server: request %d found its graph damaged", id)
						}
						s := slots(o, slotsPer)
						if s[0] != nil && s[1] != slots(s[0], slotsPer)[0] {
							fail("request_server: request %d found its graph damaged", id)
						}
						n++
					}
					if n != *objects {
						fail("request_server: request %d: %d of %d graph objects", id, n, *objects)
					}
					if buf != nil {
						b := data(buf, 0, nb)
						if b[0] != byte(id*29+3) || b[nb-1] != byte(id*29+3) {
							fail("request_server: request %d found its buffer damaged", id)
						}
						if *usePool {
							pool.Put((*byte)(buf))
						}
					}
					mu.Lock()
					latency[id] = int64(time.Since(due))
					mu.Unlock()
				}
				rng := seed ^ 0x5e5e5e5e5e5e5e5e
				gap := 1e9 / *rate
				start := time.Now()
				dueAfter := 0.0
				wg.Add(int(*requests))
				for i := int64(0); i < *requests; i++ {
					due := start.Add(time.Duration(dueAfter))
					for {
						now := time.Now()
						if !now.Before(due) {
							break
						}
						if due.Sub(now) > 200*time.Microsecond {
							time.Sleep(due.Sub(now) - 200*time.Microsecond)
						} else {
							runtime.Gosched()
						}
					}
					go handler(i, due)
					if *arrivals == "poisson" {
						dueAfter += -gap * math.Log(1.0-randUnit(&rng))
					} else {
						dueAfter += gap
					}
				}
				wg.Wait()
				runtime.KeepAlive(cache)
				sort.Slice(latency, func(a, b int) bool { return latency[a] < latency[b] })
				p.set("buffers_new", buffersNew)
				p.set("buffers_reused", buffersReused)
				rank := func(q float64) int64 {
					i := int(math.Ceil(q/100*float64(len(latency)))) - 1
					if i < 0 {
						i = 0
					}
					return latency[i]
				}
				p.set("latency_p50_ns", rank(50))
				p.set("latency_p90_ns", rank(90))
				p.set("latency_p99_ns", rank(99))
				p.set("latency_p999_ns", rank(99.9))
				p.set("latency_max_ns", latency[len(latency)-1])
			}
		},
	}
}
