"""Benchmarks: ``python -m bench.webhook_ingest`` and ``python -m bench.event_processing``.

They measure and write their figures into docs/benchmarks.md; they never assert.
"""
