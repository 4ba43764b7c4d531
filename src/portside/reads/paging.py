"""Paging by key: an opaque cursor names the row a page starts after (or, going back, before).

A page asks for one row more than it shows, in the list's order or, going back, in the
reverse order, through an index on the ordering's columns: page 2,000 costs what page 1
costs. ``page=N`` (an OFFSET) still works for old links; the links a page gives are cursors.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_

T = TypeVar("T")
Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")
Key = tuple[str | int, ...]
MAX_CURSOR = 1200  # characters: a key is at most a 512-character name and an id


@dataclass(frozen=True)
class Cursor:
    key: Key
    backward: bool = False  # the page *before* ``key``
    start: int = 0  # the position (from 1) of the page's first row when known, else 0


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps([list(cursor.key), int(cursor.backward), cursor.start], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _bindable(value: object) -> bool:
    """A key value any database takes: a 64-bit integer, or text it can store."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if not isinstance(value, str) or len(value) > 512 or "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def decode_cursor(raw: str | None, width: int) -> Cursor | None:
    """The cursor in ``raw``, or None for anything that is not one of ``width`` keys (a
    forged, truncated or foreign cursor reads as the first page)."""
    if not raw or len(raw) > MAX_CURSOR:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not (isinstance(found, list) and len(found) == 3 and isinstance(found[0], list)):
        return None
    key, backward, start = found
    if len(key) != width or backward not in (0, 1):
        return None
    if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start < 2**53:
        return None
    if not all(_bindable(v) for v in key):
        return None
    return Cursor(tuple(key), bool(backward), start)


@dataclass(frozen=True)
class Window:
    """What a caller asks: ``per_page`` rows after (or before) ``cursor``, else page ``page``."""

    per_page: int
    cursor: str | None = None
    page: int = 1


@dataclass(frozen=True)
class Slice(Generic[T]):
    """One page of a list, in the list's order, with the cursors of its neighbours."""

    rows: list[T]
    next: str | None
    previous: str | None
    total: int | None = None  # None: not counted
    estimated: bool = False  # total is an estimate (or a lower bound): shown as "about"
    page: int | None = None  # the page number when asked by number
    first: int | None = None  # the position (from 1) of the first row, when known


def keyset(
    query: Q,
    columns: Sequence[Any],  # the ordering's columns, ending with a unique one
    window: Window,
    *,
    descending: bool = False,
    values: Callable[[Key], tuple[Any, ...] | None] = lambda key: key,
) -> tuple[Q, Cursor | None]:
    """``query`` limited to the window's rows (one more, to know whether more follow);
    ``values`` turns a cursor's key into the columns' values (None: not a key of this list)."""
    cursor = decode_cursor(window.cursor, len(columns))
    found = values(cursor.key) if cursor is not None else None
    if found is None:
        cursor = None
    backward = cursor is not None and cursor.backward
    ascending = descending == backward
    if cursor is not None and found is not None:
        left: Any = columns[0] if len(columns) == 1 else tuple_(*columns)
        right: Any = found[0] if len(columns) == 1 else tuple_(*found)
        query = query.where(left > right if ascending else left < right)
    query = query.order_by(*[c.asc() if ascending else c.desc() for c in columns])
    query = query.limit(window.per_page + 1)
    if cursor is None and window.page > 1:
        query = query.offset((window.page - 1) * window.per_page)
    return query, cursor


@dataclass(frozen=True)
class Finished(Generic[T]):
    rows: list[T]
    next: str | None
    previous: str | None
    first: int | None  # the position (from 1) of rows[0], when known
    page: int | None  # the page number, when known


def finish(
    rows: Sequence[T], key: Callable[[T], Key], window: Window, cursor: Cursor | None
) -> Finished[T]:
    """The page's rows in the list's order and the cursors of the next and previous pages
    (each carrying where its page starts, so a pager can still say "51-100")."""
    more = len(rows) > window.per_page
    kept = list(rows[: window.per_page])
    backward = cursor is not None and cursor.backward
    if backward:
        kept.reverse()
    first: int | None
    if cursor is None:
        first = (window.page - 1) * window.per_page + 1
    elif backward and not more:
        first = 1  # nothing before this page: it is the first
    else:
        first = cursor.start or None
    page = None if first is None else (first - 1) // window.per_page + 1
    if not kept:
        return Finished(kept, None, None, first, page)
    has_next = backward or more
    has_previous = (backward and more) or (not backward and first != 1)
    after = None
    if has_next:
        start = first + len(kept) if first is not None else 0
        after = encode_cursor(Cursor(key(kept[-1]), start=start))
    before = None
    if has_previous:
        start = max(1, first - window.per_page) if first is not None else 0
        before = encode_cursor(Cursor(key(kept[0]), backward=True, start=start))
    return Finished(kept, after, before, first, page)
