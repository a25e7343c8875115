package main

// churn: kernels/churn.c (the gc-pacing lesson). Each goroutine allocates
// its share of `objects` objects of sizes uniform in [min_bytes,
// max_bytes] (splitmix64 from the task's seed, the same sequence as the
// kernel) and keeps the last live_objects/goroutines in a window (a
// pointer array); every tenth object has one reference slot, to its
// predecessor, and the rest of its bytes as scalars. Go scans such an
// object up to its last pointer word, 8 bytes, as heapsim scans its one
// slot: the mark work, which paces the collector, is the same on both
// sides (an earlier version made it all pointers, and Go scanned 3.5
// times heapsim's bytes per cycle).

import (
	"flag"
	"reflect"
	"runtime"
	"sync"
	"unsafe"
)

var churnSink []int64

// Go 1.19's small size classes up to 512 bytes (sizeclasses.go).
var churnClasses = []uint64{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176,
	192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512}

// churnType: one pointer, then scalars, filling the size class of `bytes`.
func churnType(bytes uint64) reflect.Type {
	for _, c := range churnClasses {
		if bytes <= c {
			return objectType(1, c-8)
		}
	}
	return objectType(1, bytes-8)
}

func churnRun(p *probe, objects, window int64, minBytes, maxBytes, seed uint64) int64 {
	rng := seed
	w := window
	if w <= 0 {
		w = 1
	}
	p.alloc(uint64(w) * 8)
	win := make([]unsafe.Pointer, w)
	var prev unsafe.Pointer
	var checksum int64
	for i := int64(0); i < objects; i++ {
		span := maxBytes - minBytes + 1
		bytes := minBytes + splitmix(&rng)%span
		var nptrs uint64
		if i%10 == 0 && bytes >= 8 {
			nptrs = 1
		}
		scalars := bytes - nptrs*8
		var obj unsafe.Pointer
		if nptrs == 1 {
			// One slot then scalars, in a type as big as the object's size
			// class (the same slot Go gives `bytes`; one reflect type per
			// class, not per size, whose metadata would add a MiB to the
			// live heap).
			p.alloc(bytes)
			obj = reflect.New(churnType(bytes)).UnsafePointer()
			*(*unsafe.Pointer)(obj) = prev
		} else {
			obj = newObject(p, 0, scalars)
		}
		if scalars >= 8 {
			*(*uint64)(unsafe.Add(obj, nptrs*8)) = uint64(i)
		}
		prev = obj
		if window > 0 {
			win[i%w] = obj
		}
		checksum += int64(bytes)
		if i&1023 == 1023 {
			runtime.Gosched()
		}
	}
	runtime.KeepAlive(win)
	return checksum
}

func init() {
	kernelDefs["churn"] = kernelDef{
		doc: "a sliding window of live objects under steady allocation (gc-pacing)",
		define: func(fs *flag.FlagSet) func(*probe, uint64) {
			objects := fs.Int64("objects", 1000000, "objects allocated in all")
			live := fs.Int64("live_objects", 10000, "objects kept live at once")
			minBytes := sizeFlag(fs, "min_bytes", 16, "smallest object size")
			maxBytes := sizeFlag(fs, "max_bytes", 512, "largest object size")
			ngor := fs.Int64("goroutines", 1, "goroutines allocating at once")
			return func(p *probe, seed uint64) {
				if *maxBytes < *minBytes {
					fail("churn: max_bytes is below min_bytes")
				}
				var wg sync.WaitGroup
				churnSink = make([]int64, *ngor)
				for g := int64(0); g < *ngor; g++ {
					n := *objects / *ngor
					if g < *objects%*ngor {
						n++
					}
					w := *live / *ngor
					if g < *live%*ngor {
						w++
					}
					s := seed ^ (uint64(g) * 0x9e3779b97f4a7c15)
					wg.Add(1)
					go func(g, n, w int64, s uint64) {
						defer wg.Done()
						churnSink[g] = churnRun(p, n, w, uint64(*minBytes), uint64(*maxBytes), s)
					}(g, n, w, s)
				}
				wg.Wait()
			}
		},
	}
}
