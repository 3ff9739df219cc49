"""Benchmarks run by hand: ``python -m bench`` runs every ``bench_*`` module here.

Each module has a ``main()`` that prints its numbers and ratios against a reference
measured in the same run; none of this is a timed test.
"""
