package main

// stacks: kernels/stacks.c (the stacks lesson), goroutines only (the
// kernel's pthread comparison is not a Go figure). `goroutines`
// goroutines each recurse `depth` frames, every frame holding a local
// array of frame_bytes that it writes, and block at the bottom until all
// of them are there and the main goroutine has read StackInuse; then they
// return. stack_bytes_per_goroutine is the growth of StackInuse from
// before the spawn to that moment, per goroutine -- heapsim's figure is
// the growth of its Go-modelled StackInuse, the same question. As in the
// kernel, a goroutine waits at the bottom by yielding, and the main
// goroutine waits by yielding too: no channel, no WaitGroup, so no sudog.
//
// Go needs the array's size at compile time: frame sizes are 16, 32, ...,
// 4096 bytes, and another frame_bytes is rounded up to the next of them
// (frame_bytes_go says which was used).

import (
	"flag"
	"runtime"
	"sync/atomic"
	"unsafe"
)

type frameArray interface {
	[16]byte | [32]byte | [64]byte | [128]byte | [256]byte | [512]byte | [1024]byte | [2048]byte | [4096]byte
}

//go:noinline
func descend[A frameArray](n int64, bottom func()) uint64 {
	if n == 0 {
		bottom()
		return 0
	}
	var frame A
	b := unsafe.Slice((*byte)(unsafe.Pointer(&frame)), unsafe.Sizeof(frame))
	for i := range b {
		b[i] = byte(n & 0x7f)
	}
	sum := descend[A](n-1, bottom)
	return sum + uint64(b[n%int64(len(b))])
}

func descenderFor(frameBytes int64) (func(int64, func()) uint64, int64) {
	switch {
	case frameBytes <= 16:
		return descend[[16]byte], 16
	case frameBytes <= 32:
		return descend[[32]byte], 32
	case frameBytes <= 64:
		return descend[[64]byte], 64
	case frameBytes <= 128:
		return descend[[128]byte], 128
	case frameBytes <= 256:
		return descend[[256]byte], 256
	case frameBytes <= 512:
		return descend[[512]byte], 512
	case frameBytes <= 1024:
		return descend[[1024]byte], 1024
	case frameBytes <= 2048:
		return descend[[2048]byte], 2048
	default:
		return descend[[4096]byte], 4096
	}
}

// stacksPhase is the kernel's gor_phase_t: what every goroutine shares.
// Each goroutine is started as `go stacksBody(ph)`, one pointer: its
// closure is 16 B, as heapsim's go-closure.
type stacksPhase struct {
	desc     func(int64, func()) uint64
	bottom   func()
	depth    int64
	arrived  int64 // at the bottom
	pending  int64 // not returned yet
	release  int32 // the main goroutine has measured
	checksum uint64
}

func stacksBody(ph *stacksPhase) {
	s := ph.desc(ph.depth, ph.bottom)
	atomic.AddUint64(&ph.checksum, s)
	atomic.AddInt64(&ph.pending, -1)
}

func init() {
	kernelDefs["stacks"] = kernelDef{
		doc: "goroutines blocked at the bottom of a recursion: stack bytes per goroutine",
		define: func(fs *flag.FlagSet) func(*probe, uint64) {
			n := fs.Int64("goroutines", 10000, "goroutines recursing at once")
			depth := fs.Int64("depth", 100, "recursion depth in frames")
			frameBytes := sizeFlag(fs, "frame_bytes", 128, "local array written in each frame")
			fs.Bool("threads", true, "ignored: the pthread comparison is heapsim's alone")
			return func(p *probe, seed uint64) {
				desc, used := descenderFor(*frameBytes)
				ph := &stacksPhase{desc: desc, depth: *depth, pending: *n}
				// As the kernel: wait at the bottom by yielding (no channel,
				// so no sudog), until main has measured.
				ph.bottom = func() {
					atomic.AddInt64(&ph.arrived, 1)
					for {
						runtime.Gosched()
						if atomic.LoadInt32(&ph.release) != 0 {
							break
						}
					}
				}
				p.restart() // ph and its bottom are the kernel's state, not counted
				before := p.stackInuse()
				for i := int64(0); i < *n; i++ {
					go stacksBody(ph)
				}
				for atomic.LoadInt64(&ph.arrived) < *n {
					runtime.Gosched()
				}
				atBottom := p.stackInuse()
				p.sample()
				atomic.StoreInt32(&ph.release, 1)
				for atomic.LoadInt64(&ph.pending) > 0 {
					runtime.Gosched()
				}
				perG := 0.0
				if atBottom > before {
					perG = float64(atBottom-before) / float64(*n)
				}
				p.set("stack_bytes_per_goroutine", perG)
				p.set("stack_inuse_bottom_bytes", atBottom)
				p.set("frame_bytes_go", used)
				p.set("checksum", ph.checksum)
			}
		},
	}
}
