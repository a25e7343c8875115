// binarytrees: the Benchmarks Game binary-trees program in Go, the anchor
// heapsim's binary_trees kernel is measured against (bench/binary_trees.sh).
// Same rules as the kernel: stretch tree of depth max+1, a long-lived tree
// of depth max, 2^(max-d+4) trees for each depth d = 4, 6, ..., max, one
// goroutine per depth, output identical to the reference output.
package main

import (
	"fmt"
	"os"
	"strconv"
)

type node struct {
	left, right *node
}

func bottomUp(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	return &node{bottomUp(depth - 1), bottomUp(depth - 1)}
}

func (n *node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

const minDepth = 4

func main() {
	n := 10
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "binarytrees: depth must be a number: %v\n", err)
			os.Exit(2)
		}
		n = v
	}
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	stretch := maxDepth + 1
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretch, bottomUp(stretch).check())

	longLived := bottomUp(maxDepth)

	njobs := (maxDepth-minDepth)/2 + 1
	results := make([]string, njobs)
	done := make(chan struct{}, njobs)
	for j := 0; j < njobs; j++ {
		go func(j int) {
			depth := minDepth + 2*j
			iterations := 1 << uint(maxDepth-depth+minDepth)
			sum := 0
			for i := 0; i < iterations; i++ {
				sum += bottomUp(depth).check()
			}
			results[j] = fmt.Sprintf("%d\t trees of depth %d\t check: %d", iterations, depth, sum)
			done <- struct{}{}
		}(j)
	}
	for j := 0; j < njobs; j++ {
		<-done
	}
	for _, r := range results {
		fmt.Println(r)
	}
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())
}
