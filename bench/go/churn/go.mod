module heapsim/bench/churn

go 1.19
