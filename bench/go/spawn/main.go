// spawn: start N goroutines that each park on a channel, then release them
// all and wait; the anchor for heapsim's spawn kernel (bench/runtime.sh).
// Prints ns_per_spawn (spawn to all parked), ns_per_goroutine (whole
// cycle) and bytes_per_goroutine (runtime Sys growth while all are parked,
// which is what the process pays for them).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "spawn: goroutines must be a positive number")
			os.Exit(2)
		}
		n = v
	}
	var before, parked runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	release := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-release
			done.Done()
		}()
	}
	started.Wait()
	t1 := time.Now()
	runtime.ReadMemStats(&parked)
	close(release)
	done.Wait()
	t2 := time.Now()

	fmt.Printf("ns_per_spawn %.1f\n", float64(t1.Sub(t0).Nanoseconds())/float64(n))
	fmt.Printf("ns_per_goroutine %.1f\n", float64(t2.Sub(t0).Nanoseconds())/float64(n))
	fmt.Printf("bytes_per_goroutine %.0f\n", float64(parked.Sys-before.Sys)/float64(n))
	fmt.Printf("stack_inuse_per_goroutine %.0f\n", float64(parked.StackInuse-before.StackInuse)/float64(n))
}
