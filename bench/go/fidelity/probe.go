package main

// The figures every fidelity program prints, measured the same way for
// each kernel.
//
// Counts are deltas from the start of the kernel (a runtime.ReadMemStats
// before it, one after it; ReadMemStats flushes the per-P caches, so
// Mallocs and TotalAlloc are exact):
//
//	gc_cycles      NumGC: every cycle, paced and forced, as heapsim's
//	               gc_cycles counts them (heap_collect is forced there)
//	gc_forced      NumForcedGC: of them, runtime.GC() calls
//	alloc_objects  Mallocs (tiny allocations count one each)
//	alloc_bytes    TotalAlloc: bytes of the size-class slots handed out,
//	               as heapsim counts slot bytes
//
// Peak heap in use: heapsim's tasks.peak_heap_bytes is the exact
// high-water mark of its HeapAlloc (bytes in allocated objects, by size
// class, garbage not yet swept included). Go's equivalent is HeapAlloc =
// /memory/classes/heap/objects (runtime/metrics, read without stopping
// the world). Go has no high-water mark of it, so the program samples it
// itself every sampleEveryBytes of allocation (Alloc), at every forced
// collection and at the end: the peak is exact to within one sampling
// interval of allocation (64 KiB), plus what the Ps' cached spans hold
// (go1.19 counts a cached span's slots when the span goes back: one span
// per size class in use, 8 KiB for the small ones), far below the figures
// compared. The same samples give the peak of HeapInuse (objects +
// unused slots of in-use spans), printed for reference.

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

const sampleEveryBytes = 64 << 10

type probe struct {
	kernel    string
	start     runtime.MemStats
	mu        sync.Mutex // samples: goroutines may be preempted mid-read
	samples   []metrics.Sample
	acc       uint64 // racy under GOMAXPROCS > 1: only a sampling clock
	peakInuse uint64
	peakAlloc uint64
	inuse0    uint64 // HeapInuse at the start: the runtime's own heap
	alloc0    uint64 // HeapAlloc at the start
	nsamples  int64
	extraKeys []string
	extra     map[string]interface{}
}

func newProbe(kernel string) *probe {
	p := &probe{
		kernel: kernel,
		samples: []metrics.Sample{
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/heap/unused:bytes"},
			{Name: "/memory/classes/heap/stacks:bytes"},
		},
		extra: map[string]interface{}{},
	}
	runtime.ReadMemStats(&p.start)
	p.inuse0 = p.start.HeapInuse
	p.alloc0 = p.start.HeapAlloc
	p.sample()
	return p
}

// restart makes now the start of the kernel: what the program did to
// prepare (building reflect types, say) is not counted.
func (p *probe) restart() {
	runtime.ReadMemStats(&p.start)
	p.inuse0 = p.start.HeapInuse
	p.alloc0 = p.start.HeapAlloc
	p.peakInuse, p.peakAlloc, p.nsamples, p.acc = 0, 0, 0, 0
	p.sample()
}

// peakSamples: whether alloc samples the heap (-peak_samples; a latency
// measurement turns it off, and the peak figures are then only the
// samples at the start, at runtime.GC() and at the end).
var peakSamples = true

// alloc notes `bytes` allocated by the kernel; samples the heap every
// sampleEveryBytes.
func (p *probe) alloc(bytes uint64) {
	if !peakSamples {
		return
	}
	p.acc += bytes
	if p.acc >= sampleEveryBytes {
		p.acc = 0
		p.sample()
	}
}

func (p *probe) sample() {
	p.mu.Lock()
	defer p.mu.Unlock()
	metrics.Read(p.samples)
	objects := p.samples[0].Value.Uint64()
	inuse := objects + p.samples[1].Value.Uint64()
	if inuse > p.peakInuse {
		p.peakInuse = inuse
	}
	if objects > p.peakAlloc {
		p.peakAlloc = objects
	}
	p.nsamples++
}

// stackInuse is StackInuse now (bytes of stack spans in use).
func (p *probe) stackInuse() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	metrics.Read(p.samples)
	return p.samples[2].Value.Uint64()
}

// gc is runtime.GC() with a sample before it (the heap is at its largest
// just before a collection).
func (p *probe) gc() {
	p.sample()
	runtime.GC()
}

func (p *probe) set(name string, v interface{}) {
	if _, ok := p.extra[name]; !ok {
		p.extraKeys = append(p.extraKeys, name)
	}
	p.extra[name] = v
}

// report prints the figures as one JSON line on stdout (the last line of
// the program's output).
func (p *probe) report() {
	p.sample()
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	gogc := debug.SetGCPercent(100)
	debug.SetGCPercent(gogc)
	out := map[string]interface{}{
		"kernel":                 p.kernel,
		"gogc":                   gogc,
		"gomaxprocs":             runtime.GOMAXPROCS(0),
		"gc_cycles":              end.NumGC - p.start.NumGC,
		"gc_forced":              end.NumForcedGC - p.start.NumForcedGC,
		"alloc_objects":          end.Mallocs - p.start.Mallocs,
		"alloc_bytes":            end.TotalAlloc - p.start.TotalAlloc,
		"peak_heap_inuse_bytes":  p.peakInuse,
		"peak_heap_alloc_bytes":  p.peakAlloc,
		"heap_inuse_start_bytes": p.inuse0,
		"heap_alloc_start_bytes": p.alloc0,
		"heap_inuse_end_bytes":   end.HeapInuse,
		"stack_inuse_end_bytes":  end.StackInuse,
		"heap_samples":           p.nsamples,
		"goroutines_end":         runtime.NumGoroutine(),
	}
	for _, k := range p.extraKeys {
		out[k] = p.extra[k]
	}
	b, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fidelity: ", err)
		os.Exit(1)
	}
	fmt.Println(string(b))
}

// splitmix64, as kernels/kernels_int.h.
func splitmix(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func randUnit(s *uint64) float64 {
	return float64(splitmix(s)>>11) * (1.0 / 9007199254740992.0)
}
