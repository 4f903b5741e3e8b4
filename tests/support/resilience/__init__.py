"""Resilience scenarios 1-5 (docs/resilience.md): the harness, faults, load and the books that check them.

``tests/e2e/test_resilience.py`` runs short versions; ``make resilience`` (``python -m bench.resilience``) runs the
full sizes and writes bench/results/resilience.txt.
"""
