"""How long to wait before trying again (pure): one exponential backoff for every retry.

Used by the events task (a registry that is down), the scan task, outgoing webhook
deliveries and the task loops after a failed run.
"""

from __future__ import annotations

from datetime import timedelta

_MAX_DOUBLINGS = 30  # far past any cap; keeps the arithmetic finite whatever the attempts


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential backoff after ``attempts`` failed tries: base, 2 base, 4 base, ... cap."""
    doublings = min(max(0, attempts - 1), _MAX_DOUBLINGS)
    return timedelta(seconds=min(cap, base * (2**doublings)))
