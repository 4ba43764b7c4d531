"""What the index knows of a tag, as the pure decisions (events, sync) take it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TagFacts:
    name: str
    digest: str
    source_at: datetime
    pulled_at: datetime | None
    source_seq: int | None = None  # the last event applied; None: the sync set it last
    author: str | None = None
    pushed_at: datetime | None = None
