"""citeqa evaluation harness and benchmarks."""
