"""Cursors and the keyset page's neighbours: pure."""

from __future__ import annotations

import base64
import json

import pytest

from portside.reads.counting import like_pattern
from portside.reads.paging import Cursor, Window, decode_cursor, encode_cursor, finish


def test_a_cursor_round_trips() -> None:
    cursor = Cursor(("team/app", 42), backward=True, start=51)
    assert decode_cursor(encode_cursor(cursor), 2) == cursor


@pytest.mark.parametrize(
    "raw",
    [None, "", "!!", "x" * 2000, encode_cursor(Cursor((1,))), "W10", "bnVsbA", "WzEsMiwzXQ"],
)
def test_anything_else_reads_as_no_cursor(raw: str | None) -> None:
    assert decode_cursor(raw, 2) is None


@pytest.mark.parametrize(
    "key",
    [(True, 1), ("a", 2**63), ("a\x00b", 1), ("\ud800", 1), ("x" * 513, 1), (1.5, 1)],
)
def test_a_key_no_database_could_bind_is_refused(key: tuple[object, ...]) -> None:
    """Never a 500 from a forged cursor: booleans, floats, out-of-range integers, NUL, lone
    surrogates, overlong text."""
    raw = base64.urlsafe_b64encode(json.dumps([list(key), 0, 0]).encode()).decode()
    assert decode_cursor(raw, 2) is None


def key(n: int) -> tuple[int]:
    return (n,)


def test_the_first_page_links_forward_only() -> None:
    window = Window(per_page=3)
    done = finish([1, 2, 3, 4], key, window, None)
    assert (done.rows, done.previous, done.first, done.page) == ([1, 2, 3], None, 1, 1)
    assert decode_cursor(done.next, 1) == Cursor((3,), start=4)


def test_a_middle_page_links_both_ways_with_positions() -> None:
    window = Window(per_page=3, cursor=encode_cursor(Cursor((3,), start=4)))
    cursor = decode_cursor(window.cursor, 1)
    done = finish([4, 5, 6, 7], key, window, cursor)
    assert (done.rows, done.first, done.page) == ([4, 5, 6], 4, 2)
    assert decode_cursor(done.next, 1) == Cursor((6,), start=7)
    assert decode_cursor(done.previous, 1) == Cursor((4,), backward=True, start=1)


def test_the_last_page_has_no_next() -> None:
    cursor = Cursor((6,), start=7)
    done = finish([7], key, Window(per_page=3, cursor=encode_cursor(cursor)), cursor)
    assert (done.rows, done.next, done.first) == ([7], None, 7)
    assert done.previous is not None


def test_going_back_reverses_the_rows_and_finds_the_first_page() -> None:
    cursor = Cursor((4,), backward=True, start=1)
    window = Window(per_page=3, cursor=encode_cursor(cursor))
    done = finish([3, 2, 1], key, window, cursor)  # fetched in reverse, nothing before
    assert (done.rows, done.previous, done.first) == ([1, 2, 3], None, 1)
    assert decode_cursor(done.next, 1) == Cursor((3,), start=4)


def test_going_back_with_more_before() -> None:
    cursor = Cursor((7,), backward=True, start=4)
    window = Window(per_page=3, cursor=encode_cursor(cursor))
    done = finish([6, 5, 4, 3], key, window, cursor)
    assert (done.rows, done.first) == ([4, 5, 6], 4)
    assert decode_cursor(done.previous, 1) == Cursor((4,), backward=True, start=1)


def test_an_offset_page_links_by_cursor() -> None:
    done = finish([11, 12, 13, 14], key, Window(per_page=3, page=4), None)
    assert (done.first, done.page) == (10, 4)
    assert decode_cursor(done.previous, 1) == Cursor((11,), backward=True, start=7)


def test_like_patterns_escape_wildcards() -> None:
    assert like_pattern("a_b%c\\") == "%a\\_b\\%c\\\\%"
