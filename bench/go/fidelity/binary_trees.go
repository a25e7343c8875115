package main

// binary_trees: kernels/binary_trees.c. A node is an object of two
// reference slots and no scalars (16 B, the 16 B size class, on both
// sides). Stretch tree of depth max+1, a long-lived tree of depth max,
// 2^(max-d+4) trees for each depth d = 4, 6, ..., max, one goroutine per
// depth (heapsim's cooperative scheduler runs them one after another; Go,
// on one P, preempts and interleaves them). The output is the reference
// output, byte for byte.

import (
	"flag"
	"fmt"
	"runtime"
)

type btNode struct {
	left, right *btNode
}

func btBottomUp(p *probe, depth int) *btNode {
	if depth <= 0 {
		p.alloc(16)
		return &btNode{}
	}
	l := btBottomUp(p, depth-1)
	r := btBottomUp(p, depth-1)
	p.alloc(16)
	return &btNode{l, r}
}

func (n *btNode) check() int64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func init() {
	kernelDefs["binary_trees"] = kernelDef{
		doc: "Benchmarks Game binary-trees (-depth)",
		define: func(fs *flag.FlagSet) func(*probe, uint64) {
			depth := fs.Int("depth", 10, "maximum tree depth")
			return func(p *probe, seed uint64) {
				const minDepth = 4
				maxDepth := *depth
				if maxDepth < minDepth+2 {
					maxDepth = minDepth + 2
				}
				stretch := maxDepth + 1
				stretchTree := btBottomUp(p, stretch)
				fmt.Printf("stretch tree of depth %d\t check: %d\n", stretch, stretchTree.check())
				longLived := btBottomUp(p, maxDepth)
				// The kernel's root slot holds the stretch tree until the
				// long-lived tree replaces it: the same live set here (the
				// Benchmarks Game program drops it after its check).
				runtime.KeepAlive(stretchTree)
				njobs := (maxDepth-minDepth)/2 + 1
				checks := make([]int64, njobs)
				iters := make([]int64, njobs)
				done := make(chan struct{}, njobs)
				for j := 0; j < njobs; j++ {
					go func(j int) {
						d := minDepth + 2*j
						iters[j] = int64(1) << uint(maxDepth-d+minDepth)
						var sum int64
						for i := int64(0); i < iters[j]; i++ {
							sum += btBottomUp(p, d).check()
						}
						checks[j] = sum
						done <- struct{}{}
					}(j)
				}
				for j := 0; j < njobs; j++ {
					<-done
				}
				for j := 0; j < njobs; j++ {
					fmt.Printf("%d\t trees of depth %d\t check: %d\n", iters[j], minDepth+2*j, checks[j])
				}
				fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())
			}
		},
	}
}
