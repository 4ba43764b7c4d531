"""How :class:`portside.db.types.DeflatedJSON` stores a value on SQLite (pure functions)."""

from __future__ import annotations

import json
import zlib

import pytest

from portside.db.types import deflate, inflate


def test_a_deflated_document_reads_back_as_it_was_and_is_smaller() -> None:
    findings = [
        {"id": f"GHSA-{n}", "package": "openssl", "summary": "A flaw in the TLS stack " * 3}
        for n in range(200)
    ]
    text = json.dumps(findings)
    stored = deflate(text)
    assert isinstance(stored, bytes)
    assert inflate(stored) == findings
    assert len(stored) * 10 < len(text)
    assert deflate(text) == stored  # the same text, the same bytes: the re-match compares them


def test_text_stored_before_the_column_was_deflated_reads_as_json() -> None:
    assert inflate('[{"id": "CVE-1"}]') == [{"id": "CVE-1"}]


def test_damaged_values_are_refused_not_misread() -> None:
    with pytest.raises(zlib.error):
        inflate(b"\x00not deflate")
    with pytest.raises(json.JSONDecodeError):
        inflate(zlib.compress(b"{not json"))
    with pytest.raises(json.JSONDecodeError):
        inflate("{not json")
