"""Measuring tools: variance benchmarks, evaluation counts, mode coverage, plots and the `srmc` command line."""
