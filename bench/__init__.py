"""Benchmarks of the Session Ledger against raw baselines on the same database (`make bench`).

Not tests: nothing here asserts a timing. Results go to bench/results/<date>.json and
bench/RESULTS.md; see bench/__main__.py for the command line.
"""
