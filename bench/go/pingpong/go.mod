module heapsim/bench/pingpong

go 1.19
