package main

// copy_vs_pointer: kernels/copy_vs_pointer.c (the copying lesson). A
// source, `stages` goroutine stages and a sink joined by unbuffered
// channels of one pointer each (stages+1 channels, held in a pointer
// array). The source allocates each payload (pointer-free, payload_bytes:
// its number, a stamp word, a pattern); each stage adds its number to the
// stamp and passes it on -- by value: copied into a new object first, the
// old one becomes garbage; by pointer: the same object. The sink checks
// the order, the stamps and the pattern (sampled).

import (
	"flag"
	"unsafe"
)

func init() {
	kernelDefs["copy_vs_pointer"] = kernelDef{
		doc: "a pipeline passing large payloads by value or by pointer",
		define: func(fs *flag.FlagSet) func(*probe, uint64) {
			items := fs.Int64("items", 20000, "payloads sent through the pipeline")
			payloadBytes := sizeFlag(fs, "payload_bytes", 65536, "size of each payload")
			stages := fs.Int64("stages", 4, "goroutine stages")
			by := fs.String("by", "value", "value or pointer")
			return func(p *probe, seed uint64) {
				byValue := *by == "value"
				n := uint64(*payloadBytes)
				pat := func(id int64) byte { return byte(id*131 + 7) }
				p.alloc(uint64(*stages+1) * 8)
				chans := make([]chan unsafe.Pointer, *stages+1)
				for i := range chans {
					p.alloc(96)
					chans[i] = make(chan unsafe.Pointer)
				}
				done := make(chan struct{})
				go func() { // source
					for id := int64(0); id < *items; id++ {
						obj := newObject(p, 0, n)
						w := words(obj, 0, 2)
						w[0], w[1] = uint64(id), 0
						b := data(obj, 0, n)[16:]
						for k := range b {
							b[k] = pat(id)
						}
						chans[0] <- obj
					}
					close(chans[0])
				}()
				for s := int64(1); s <= *stages; s++ {
					go func(s int64) {
						for in := range chans[s-1] {
							out := in
							if byValue {
								out = newObject(p, 0, n)
								copy(data(out, 0, n), data(in, 0, n))
							}
							words(out, 0, 2)[1] += uint64(s)
							chans[s] <- out
						}
						close(chans[s])
					}(s)
				}
				go func() { // sink
					stamps := uint64(*stages * (*stages + 1) / 2)
					sunk := int64(0)
					for obj := range chans[*stages] {
						w := words(obj, 0, 2)
						b := data(obj, 0, n)[16:]
						id := int64(w[0])
						ok := id == sunk && w[1] == stamps
						for k := 0; k < len(b) && ok; k += 4096 {
							ok = b[k] == pat(id)
						}
						if !ok || (len(b) > 0 && b[len(b)-1] != pat(id)) {
							fail("copy_vs_pointer: item %d arrived damaged or out of order", sunk)
						}
						sunk++
					}
					if sunk != *items {
						fail("copy_vs_pointer: %d of %d items arrived", sunk, *items)
					}
					close(done)
				}()
				<-done
			}
		},
	}
}
