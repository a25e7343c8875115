package main

// pool: kernels/pool.c (the pool lesson, first task). `concurrency`
// goroutines serve `requests` requests between them. A request allocates
// its record (one reference slot and its number: 16 B) and gets a buffer
// of payload_bytes (pointer-free): new, or with -pool=true from a
// sync.Pool (new only when the pool is empty). It writes the buffer,
// yields (runtime.Gosched: `concurrency` requests in flight), checks it
// and puts it back. The pool holds *byte (no allocation to box it).

import (
	"flag"
	"runtime"
	"sync"
	"unsafe"
)

type poolRecord struct {
	buf *byte
	id  int64
}

var poolSink []*poolRecord // the records are heap objects, as in heapsim

func init() {
	kernelDefs["pool"] = kernelDef{
		doc: "per-request buffers allocated fresh or reused through sync.Pool",
		define: func(fs *flag.FlagSet) func(*probe, uint64) {
			requests := fs.Int64("requests", 200000, "requests served")
			payloadBytes := sizeFlag(fs, "payload_bytes", 4096, "the buffer each request writes")
			concurrency := fs.Int64("concurrency", 64, "goroutines serving")
			usePool := fs.Bool("pool", false, "take buffers from a sync.Pool")
			return func(p *probe, seed uint64) {
				conc := *concurrency
				if conc > *requests {
					conc = *requests
				}
				n := uint64(*payloadBytes)
				var pool sync.Pool
				var wg sync.WaitGroup
				var hits, misses int64
				poolSink = make([]*poolRecord, conc)
				p.restart()
				wg.Add(int(conc))
				for i := int64(0); i < conc; i++ {
					go func(first int64) {
						defer wg.Done()
						for id := first; id < *requests; id += conc {
							p.alloc(16)
							rec := &poolRecord{id: id}
							poolSink[first] = rec
							var buf unsafe.Pointer
							if *usePool {
								if v := pool.Get(); v != nil {
									buf = unsafe.Pointer(v.(*byte))
									hits++
								}
							}
							if buf == nil {
								buf = newObject(p, 0, n)
								misses++
							}
							rec.buf = (*byte)(buf)
							words(buf, 0, 1)[0] = uint64(id)
							b := data(buf, 0, n)[8:]
							rb := byte(id*37 + 11)
							for k := range b {
								b[k] = rb
							}
							runtime.Gosched()
							ok := words(buf, 0, 1)[0] == uint64(id)
							for k := 0; k < len(b) && ok; k += 512 {
								ok = b[k] == rb
							}
							if !ok || (len(b) > 0 && b[len(b)-1] != rb) {
								fail("pool: request %d found its buffer overwritten", id)
							}
							if *usePool {
								pool.Put((*byte)(buf))
							}
							poolSink[first] = nil
						}
					}(i)
				}
				wg.Wait()
				p.set("buffers_new", misses)
				p.set("buffers_reused", hits)
			}
		},
	}
}
