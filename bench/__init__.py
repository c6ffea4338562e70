"""Benchmarks for Action Lens: `python -m bench` (see bench/run.py)."""
