"""Benchmark scripts (run them, they print JSON); not part of the package."""
