// fidelity: heapsim's kernels written as Go 1.19 programs, for
// bench/fidelity.sh. Each does what the kernel of the same name does
// (kernels/*.c): the same objects of the same sizes and pointer slots, the
// same live set, goroutines, channels and sync.Pool use, with the same
// parameters under the same names, and prints its figures as one JSON line
// on stdout (probe.go says what each figure is).
//
//	fidelity KERNEL [-param=value ...] [-seed=N] [-peak_samples=false]
//
// KERNEL is a catalog kernel name: binary_trees, churn, stacks, leak,
// producer_consumer, copy_vs_pointer, pool, request_server. Parameters are
// the kernel's (`heapsim kernels`), sizes in bytes; -seed is the task's
// seed as `heapsim check --json` prints it (signed 64-bit). GOGC and
// GOMAXPROCS come from the environment (bench/fidelity.sh sets them).
//
// Every object heapsim allocates in its heap is a heap object here too:
// where Go's escape analysis would keep one on the stack (a request record
// that is dropped at once), the program stores it in a global sink, as
// heapsim's root slot keeps it reachable. Objects with reference slots and
// scalars have the kernel's exact layout (reflect.StructOf: the pointers
// first, then the bytes), so sizes and size classes match heapsim's (no
// header in either).
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
)

type kernelDef struct {
	doc    string
	define func(fs *flag.FlagSet) func(p *probe, seed uint64)
}

var kernelDefs = map[string]kernelDef{}

func usage() {
	names := make([]string, 0, len(kernelDefs))
	for n := range kernelDefs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(os.Stderr, "usage: fidelity KERNEL [-param=value ...] [-seed=N]")
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-18s %s\n", n, kernelDefs[n].doc)
	}
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	k, ok := kernelDefs[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "fidelity: no kernel '%s'\n", os.Args[1])
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	seed := fs.Int64("seed", 1, "the task's seed (signed 64-bit, as heapsim check --json prints it)")
	fs.BoolVar(&peakSamples, "peak_samples", true, "sample the heap every 64 KiB allocated (the peak figures)")
	run := k.define(fs)
	if err := fs.Parse(os.Args[2:]); err != nil || fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fidelity %s: unexpected arguments %v\n", os.Args[1], fs.Args())
		os.Exit(2)
	}
	p := newProbe(os.Args[1])
	run(p, uint64(*seed))
	p.report()
}

// fail ends the program as a failed task does.
func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "fidelity: "+format+"\n", args...)
	os.Exit(1)
}

// sizeFlag is a size parameter: a number of bytes (heapsim check --json
// prints sizes as numbers).
func sizeFlag(fs *flag.FlagSet, name string, def int64, usage string) *int64 {
	return fs.Int64(name, def, usage+" (bytes)")
}
