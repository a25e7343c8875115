package main

// producer_consumer: kernels/producer_consumer.c (the channels lesson).
// `producers` goroutines make `items` items between them: produce_ns of
// work, then an item of item_bytes (pointer-free: its number, a check
// word, the payload) sent on a channel of `buffer` slots of *item.
// `consumers` goroutines receive, check and spend consume_ns on each. Work
// is a sleep (or a spin with -work=spin), exponential around its mean or
// fixed, as the kernel's.

import (
	"flag"
	"math"
	"sync"
	"time"
	"unsafe"
)

func workNs(rng *uint64, mean int64, exponential bool) time.Duration {
	if !exponential || mean == 0 {
		return time.Duration(mean)
	}
	return time.Duration(-float64(mean) * math.Log(1.0-randUnit(rng)))
}

func doWork(d time.Duration, spin bool) {
	if d <= 0 {
		return
	}
	if !spin {
		time.Sleep(d)
		return
	}
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}

func init() {
	kernelDefs["producer_consumer"] = kernelDef{
		doc: "producers and slower consumers over a channel of `buffer` slots",
		define: func(fs *flag.FlagSet) func(*probe, uint64) {
			nprod := fs.Int64("producers", 1, "producer goroutines")
			ncons := fs.Int64("consumers", 1, "consumer goroutines")
			items := fs.Int64("items", 1000, "items in all")
			buffer := fs.Int64("buffer", 0, "channel buffer in items")
			itemBytes := sizeFlag(fs, "item_bytes", 1024, "size of each item")
			produceNs := fs.Int64("produce_ns", 1000000, "mean work per item of a producer")
			consumeNs := fs.Int64("consume_ns", 1250000, "mean work per item of a consumer")
			variation := fs.String("variation", "exponential", "exponential or fixed")
			work := fs.String("work", "sleep", "sleep or spin")
			return func(p *probe, seed uint64) {
				exp := *variation == "exponential"
				spin := *work == "spin"
				ib := uint64(*itemBytes)
				p.alloc(96)
				ch := make(chan unsafe.Pointer, *buffer)
				var mu sync.Mutex
				next := int64(0)
				seen := make([]bool, *items)
				received := int64(0)
				maxQueued := 0
				var prodWG, consWG sync.WaitGroup
				prodWG.Add(int(*nprod))
				consWG.Add(int(*ncons))
				t0 := time.Now()
				for c := int64(0); c < *ncons; c++ {
					go func(c int64) {
						defer consWG.Done()
						rng := seed ^ (uint64(c+1) * 0xd1b54a32d192ed03)
						for it := range ch {
							w := words(it, 0, 2)
							id := int64(w[0])
							if id < 0 || id >= *items || w[1] != (uint64(id)*0x9e3779b97f4a7c15)^0x5043 {
								fail("producer_consumer: item %d arrived damaged", id)
							}
							mu.Lock()
							if seen[id] {
								fail("producer_consumer: item %d arrived twice", id)
							}
							seen[id] = true
							received++
							mu.Unlock()
							doWork(workNs(&rng, *consumeNs, exp), spin)
						}
					}(c)
				}
				for i := int64(0); i < *nprod; i++ {
					go func(i int64) {
						defer prodWG.Done()
						rng := seed ^ (uint64(i+1) * 0x2545f4914f6cdd1d)
						for {
							mu.Lock()
							id := next
							if id >= *items {
								mu.Unlock()
								return
							}
							next++
							mu.Unlock()
							doWork(workNs(&rng, *produceNs, exp), spin)
							it := newObject(p, 0, ib)
							w := words(it, 0, 2)
							w[0] = uint64(id)
							w[1] = (uint64(id) * 0x9e3779b97f4a7c15) ^ 0x5043
							b := data(it, 0, ib)[16:]
							for k := range b {
								b[k] = byte(id)
							}
							ch <- it
							if q := len(ch); q > maxQueued {
								maxQueued = q
							}
						}
					}(i)
				}
				prodWG.Wait()
				close(ch)
				consWG.Wait()
				elapsed := time.Since(t0)
				if received != *items {
					fail("producer_consumer: %d of %d items arrived", received, *items)
				}
				p.set("items_per_sec", float64(*items)/elapsed.Seconds())
				p.set("max_queued", maxQueued)
			}
		},
	}
}
