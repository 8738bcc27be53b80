"""Measuring tools: variance benchmarks, evaluation counts, mode coverage, post-hoc control variates, plots and the
`srmc` command line."""
