"""The stored forms of an advisory (advisories.brief, advisory_packages.affected) read back as
the parser reads the record: on the real OSV records in ../shared/realosv/osv and the records
under tests/data/osv (distribution advisories: Debian, Ubuntu, Alpine, Red Hat, Rocky)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from portside.security.advisories.index import (
    AdvisoryRef,
    build_index,
    index_of,
    index_of_compiled,
    key_of,
)
from portside.security.advisories.osv import Advisory, parse_advisory
from portside.security.advisories.stored import (
    affected_form,
    affected_forms,
    affected_of,
    brief_form,
    compiled_of,
    links_of,
    ref_of,
)
from portside.security.advisories.versions import compile_affected
from tests.support.realosv import real_osv

DATA = Path(__file__).resolve().parents[3] / "data" / "osv"


def advisories() -> list[Advisory]:
    files = sorted(real_osv().glob("*.json")) + sorted(DATA.glob("*.json"))
    return [parse_advisory(json.loads(f.read_text())).advisory for f in files]


def stored(form: object) -> object:
    """As the database gives it back: through JSON."""
    return json.loads(json.dumps(form))


def test_affected_entries_read_back_as_parsed() -> None:
    checked = 0
    for advisory in advisories():
        forms = {key: stored(entries) for key, entries in affected_forms(advisory).items()}
        assert set(forms) == {key_of(a) for a in advisory.affected}
        for key, entries in forms.items():
            assert isinstance(entries, list)
            expected = [
                dataclasses.replace(a, purl=None) for a in advisory.affected if key_of(a) == key
            ]
            assert [affected_of(entry) for entry in entries] == expected, advisory.id
            # Compiled straight from the form: what compiling the parsed entry gives.
            compiled = [compile_affected(a) for a in expected]
            assert [compiled_of(entry) for entry in entries] == compiled, advisory.id
            checked += len(entries)
    assert checked > 300


def test_what_a_finding_reports_reads_back_as_parsed() -> None:
    for advisory in advisories():
        brief = stored(brief_form(advisory))
        assert ref_of(advisory.id, str(advisory.severity), brief) == AdvisoryRef.of(advisory)
        assert links_of(brief) == list(advisory.references[:10])


def test_an_index_of_stored_forms_is_the_index_of_the_records() -> None:
    records = advisories()
    parts = []
    for advisory in records:
        if advisory.is_withdrawn:
            continue
        ref = ref_of(advisory.id, str(advisory.severity), stored(brief_form(advisory)))
        for key, entries in affected_forms(advisory).items():
            parts.append((key, ref, [affected_of(e) for e in stored(entries)]))  # type: ignore[attr-defined]
    from_forms = index_of(parts)
    from_records = build_index(records)
    assert from_forms.entries == from_records.entries
    assert from_forms.advisories == from_records.advisories
    compiled = [(key, ref, [compile_affected(a) for a in entries]) for key, ref, entries in parts]
    from_compiled = index_of_compiled(compiled)
    assert from_compiled.entries == from_records.entries
    assert from_compiled.undecidable_ranges == from_records.undecidable_ranges


@pytest.mark.parametrize(
    "form",
    [
        "text",
        {"ecosystem": "PyPI"},
        {"ecosystem": "PyPI", "name": "x", "versions": "1.0", "ranges": []},
        {"ecosystem": "PyPI", "name": "x", "versions": [], "ranges": [{"type": "SEMVER"}]},
        {"ecosystem": "PyPI", "name": "x", "versions": [], "ranges": [5]},
    ],
)
def test_a_damaged_affected_form_is_refused(form: object) -> None:
    with pytest.raises(ValueError, match="stored"):
        affected_of(form)
    with pytest.raises(ValueError, match="stored"):
        compiled_of(form)


@pytest.mark.parametrize("form", [None, [], {"aliases": "CVE-1", "related": []}])
def test_a_damaged_brief_is_refused(form: object) -> None:
    with pytest.raises(ValueError, match="stored brief"):
        ref_of("X-1", "High", form)


def test_an_unknown_severity_reads_as_unknown() -> None:
    ref = ref_of("X-1", "Dire", {"aliases": [], "related": [], "cvss_score": "9"})
    assert (ref.severity, ref.cvss_score) == ("Unknown", None)


def test_a_form_keeps_what_matching_reads() -> None:
    (advisory,) = [a for a in advisories() if a.id == "DSA-5514-1"]
    form = affected_form(advisory.affected[0])
    assert set(form) == {"ecosystem", "name", "versions", "ranges"}
