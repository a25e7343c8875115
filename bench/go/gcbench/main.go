// gcbench: GCBench by John Ellis and Pete Kovac, as modified by Hans Boehm,
// in Go: the anchor heapsim's gcbench kernel is measured against
// (bench/gcbench.sh). Same parameters and phases as kernels/gcbench.c:
//
//	gcbench [MAX_DEPTH [LONG_LIVED_DEPTH [ARRAY_SIZE]]]   (16 16 500000)
//
// a stretch tree of depth MAX_DEPTH+2 built and dropped; a long-lived tree
// of LONG_LIVED_DEPTH (top-down) and a long-lived array of ARRAY_SIZE
// float64s; then for each depth d = 4, 6, ..., MAX_DEPTH,
// 2*size(stretch)/size(d) trees built top-down (populate an empty node) and
// as many bottom-up (children first), each dropped at once. A node is two
// pointers and two ints. The self-check: the long-lived tree and array
// survive intact. The output is the kernel's, byte for byte; timings go to
// stderr so that it stays comparable.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

type node struct {
	left, right *node
	i, j        int
}

const minTreeDepth = 4

// treeSize is the number of nodes in a perfect tree of depth d.
func treeSize(d int) int {
	return 1<<uint(d+1) - 1
}

// populate gives n children down to depth (top-down construction).
func populate(depth int, n *node) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = &node{}
	n.right = &node{}
	populate(depth, n.left)
	populate(depth, n.right)
}

// makeTree builds a tree of depth bottom-up.
func makeTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	return &node{left: makeTree(depth - 1), right: makeTree(depth - 1)}
}

func countNodes(n *node) int {
	if n == nil {
		return 0
	}
	return 1 + countNodes(n.left) + countNodes(n.right)
}

// sink keeps a tree reachable until the next one replaces it, as the
// kernel's root slot does, so the compiler cannot drop the construction.
var sink *node

func main() {
	args := []int{16, 16, 500000}
	for k := 1; k < len(os.Args) && k <= len(args); k++ {
		v, err := strconv.Atoi(os.Args[k])
		if err != nil || v < 0 {
			fmt.Fprintf(os.Stderr, "gcbench: usage: gcbench [MAX_DEPTH [LONG_LIVED_DEPTH [ARRAY_SIZE]]]\n")
			os.Exit(2)
		}
		args[k-1] = v
	}
	maxDepth, longLivedDepth, arraySize := args[0], args[1], args[2]
	stretchDepth := maxDepth + 2

	fmt.Printf("Garbage Collector Test\n")
	fmt.Printf(" Stretching memory with a binary tree of depth %d\n", stretchDepth)
	t0 := time.Now()
	sink = makeTree(stretchDepth)
	sink = nil

	fmt.Printf(" Creating a long-lived binary tree of depth %d\n", longLivedDepth)
	longLived := &node{}
	populate(longLivedDepth, longLived)

	fmt.Printf(" Creating a long-lived array of %d doubles\n", arraySize)
	array := make([]float64, arraySize)
	for i := 1; i < arraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}

	for d := minTreeDepth; d <= maxDepth; d += 2 {
		iters := 2 * treeSize(stretchDepth) / treeSize(d)
		fmt.Printf("Creating %d trees of depth %d\n", iters, d)
		t := time.Now()
		for i := 0; i < iters; i++ {
			sink = &node{}
			populate(d, sink)
			sink = nil
		}
		fmt.Fprintf(os.Stderr, "gcbench: depth %d top down %d ms\n", d, time.Since(t).Milliseconds())
		fmt.Printf("\tTop down construction done\n")
		t = time.Now()
		for i := 0; i < iters; i++ {
			sink = makeTree(d)
			sink = nil
		}
		fmt.Fprintf(os.Stderr, "gcbench: depth %d bottom up %d ms\n", d, time.Since(t).Milliseconds())
		fmt.Printf("\tBottom up construction done\n")
	}

	// The self-check: the long-lived data survived every collection.
	nodes := countNodes(longLived)
	if nodes != treeSize(longLivedDepth) {
		fmt.Fprintf(os.Stderr, "gcbench self-check failed: long-lived tree has %d nodes, expected %d\n",
			nodes, treeSize(longLivedDepth))
		os.Exit(1)
	}
	if arraySize > 1000 && array[1000] != 1.0/1000 {
		fmt.Fprintf(os.Stderr, "gcbench self-check failed: long-lived array[1000] = %g\n", array[1000])
		os.Exit(1)
	}
	fmt.Printf("Self-check passed: long-lived tree of %d nodes and array intact\n", nodes)
	fmt.Fprintf(os.Stderr, "gcbench: total %d ms\n", time.Since(t0).Milliseconds())
}
