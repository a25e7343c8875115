module heapsim/bench/binarytrees

go 1.19
