module heapsim/bench/gcbench

go 1.19
