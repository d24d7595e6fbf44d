"""Benchmarks built from real footage: source families, the generator and the runner."""
