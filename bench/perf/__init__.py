"""Micro-benchmarks of hot paths (`python -m bench.perf.<name>`)."""
