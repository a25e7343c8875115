// pingpong: round trips over an unbuffered channel between two goroutines,
// the anchor for heapsim's pingpong kernel (bench/runtime.sh). Prints
// ns_per_roundtrip.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	rounds := 1000000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "pingpong: rounds must be a positive number")
			os.Exit(2)
		}
		rounds = v
	}
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	start := time.Now()
	for i := 0; i < rounds; i++ {
		ping <- i
		<-pong
	}
	elapsed := time.Since(start)
	close(ping)
	fmt.Printf("ns_per_roundtrip %.1f\n", float64(elapsed.Nanoseconds())/float64(rounds))
}
