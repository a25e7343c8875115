module heapsim/bench/spawn

go 1.19
