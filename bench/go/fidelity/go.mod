module heapsim/bench/fidelity

go 1.19
