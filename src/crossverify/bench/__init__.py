"""Benchmarks: what crossverify costs and how it scales, each figure beside a baseline measured in the same run.

Run ``python -m crossverify.bench`` (``--smoke`` for tiny sizes); it prints every table and rewrites
``docs/benchmarks.md`` and ``docs/scaling.png``. Nothing here runs in production code paths.
"""
