"""Benchmarks: `make bench` runs them all, `make bench BENCH=name` one. Each writes bench/results/NAME.json."""
