"""How :class:`portside.db.types.CompressedJSON` stores a value on SQLite, and the JSON codec of
the engines (pure functions)."""

from __future__ import annotations

import json
import math
import zlib

import pytest

from portside.db.types import compress, decode, encode, encode_text, json_of, value_of


def test_a_compressed_document_reads_back_as_it_was_and_is_smaller() -> None:
    findings = [
        {"id": f"GHSA-{n}", "package": "openssl", "summary": "A flaw in the TLS stack " * 3}
        for n in range(200)
    ]
    data = encode(findings)
    stored = compress(data)
    assert isinstance(stored, bytes)
    assert value_of(stored) == findings
    assert json_of(stored) == data
    assert len(stored) * 10 < len(data)
    assert compress(data) == stored  # the same JSON, the same bytes: the re-match compares them


def test_rows_stored_before_read_as_json() -> None:
    """Text (before migration 0017) and zlib-deflated JSON (0017 and the code of its time)."""
    assert value_of('[{"id": "CVE-1"}]') == [{"id": "CVE-1"}]
    assert value_of(zlib.compress(b'[{"id": "CVE-1"}]', 1)) == [{"id": "CVE-1"}]


def test_damaged_values_are_refused_not_misread() -> None:
    for damaged in (
        b"\x00not deflate",
        zlib.compress(b"{not json"),
        compress(b"{not json"),
        compress(b'[{"id": 1}]')[:-4],  # a truncated zstd frame
        "{not json",
    ):
        with pytest.raises(ValueError, match="JSON|stored|parse|Expecting"):
            value_of(damaged)


def test_the_codec_reads_what_json_writes_and_writes_what_json_reads() -> None:
    value = {"id": "CVE-1", "score": 9.8, "naïve": ['"quoted" \u2603'], "none": None}
    assert decode(json.dumps(value)) == value
    assert json.loads(encode(value)) == value
    assert json.loads(encode_text(value)) == value
    # What orjson refuses, json writes: keys that are not strings, integers past 64 bits.
    assert json.loads(encode({1: "a"})) == {"1": "a"}
    assert decode(encode([1 << 70])) == [1 << 70]
    # ... and reads: the NaN json.dumps writes.
    assert math.isnan(decode(json.dumps([math.nan]))[0])
