// churn: heapsim's churn kernel in Go, run by TASKS goroutines at once: the
// anchor of bench/multiproc.sh, where heapsim runs the same tasks on one or
// several worker processes sharing a heap (compare GOMAXPROCS=1, 2, ...).
//
//	churn [TASKS [OBJECTS [LIVE_OBJECTS [MIN_BYTES [MAX_BYTES [WORKERS]]]]]]   (4 10000000 100000 16 512 0)
//
// WORKERS 0 runs every task at once, one goroutine each. WORKERS N runs
// them as heapsim's worker processes do: N goroutines, each taking the next
// task when it has finished one, so that at most N live sets exist at once.
//
// Each task allocates OBJECTS objects with sizes drawn uniformly from
// [MIN_BYTES, MAX_BYTES] (splitmix64, as the kernel) and keeps the last
// LIVE_OBJECTS in a window; every tenth object has one pointer, to its
// predecessor. An object with a pointer is a []unsafe.Pointer (one
// allocation: the pointer in word 0, the rest nil); one without is a
// []byte. Prints "tasks objects wall_ns allocs_per_s" on stdout.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

func splitmix(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// checksum keeps the tasks' results observable.
var checksum [64]int64

func churn(task int, objects, live int64, minBytes, maxBytes uint64) {
	rng := uint64(1) ^ uint64(task)*0x9e3779b97f4a7c15
	window := make([]unsafe.Pointer, live)
	var prev unsafe.Pointer
	var sum int64
	for i := int64(0); i < objects; i++ {
		bytes := minBytes + splitmix(&rng)%(maxBytes-minBytes+1)
		var obj unsafe.Pointer
		if i%10 == 0 && bytes >= 8 {
			words := make([]unsafe.Pointer, (bytes+7)/8)
			words[0] = prev
			obj = unsafe.Pointer(&words[0])
		} else {
			b := make([]byte, bytes)
			b[0] = byte(i)
			obj = unsafe.Pointer(&b[0])
		}
		prev = obj
		if live > 0 {
			window[i%live] = obj
		}
		sum += int64(bytes)
	}
	checksum[task%len(checksum)] += sum
}

func main() {
	args := []int64{4, 10000000, 100000, 16, 512, 0}
	for k := 1; k < len(os.Args) && k <= len(args); k++ {
		v, err := strconv.ParseInt(os.Args[k], 10, 64)
		if err != nil || v < 0 || (k != 3 && k != 6 && v == 0) {
			fmt.Fprintln(os.Stderr, "churn: usage: churn [TASKS [OBJECTS [LIVE_OBJECTS [MIN_BYTES [MAX_BYTES [WORKERS]]]]]]")
			os.Exit(2)
		}
		args[k-1] = v
	}
	tasks, objects, live, workers := int(args[0]), args[1], args[2], int(args[5])
	minBytes, maxBytes := uint64(args[3]), uint64(args[4])
	if maxBytes < minBytes {
		fmt.Fprintln(os.Stderr, "churn: MAX_BYTES is below MIN_BYTES")
		os.Exit(2)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	if workers == 0 {
		for t := 0; t < tasks; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				churn(t, objects, live, minBytes, maxBytes)
			}(t)
		}
	} else {
		next := make(chan int, tasks)
		for t := 0; t < tasks; t++ {
			next <- t
		}
		close(next)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for t := range next {
					churn(t, objects, live, minBytes, maxBytes)
				}
			}()
		}
	}
	wg.Wait()
	wall := time.Since(t0)
	total := int64(tasks) * objects
	fmt.Printf("%d %d %d %.0f\n", tasks, total, wall.Nanoseconds(), float64(total)/wall.Seconds())
}
