"""The index evaluates only the candidate entries of a key: its answers must be exactly those of
evaluating every entry, over the synthetic data and over hand-made edge cases."""

from collections.abc import Iterable
from typing import Any

import pytest

from portside.security.advisories.ecosystems import index_ecosystem, normalize_name
from portside.security.advisories.index import AdvisoryIndex, build_index, evaluate
from portside.security.advisories.osv import parse_advisory
from portside.security.advisories.versions import VersionKeys

from . import synthetic


def index_of(records: Iterable[dict[str, Any]]) -> AdvisoryIndex:
    return build_index(parse_advisory(r).advisory for r in records)


def versions_named(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """Every version each index key's records name: range events and ``versions`` lists."""
    out: dict[tuple[str, str], set[str]] = {}
    for record in records:
        for affected in record.get("affected", []):
            package = affected["package"]
            ecosystem, name = package["ecosystem"], package["name"]
            named = out.setdefault(
                (index_ecosystem(ecosystem), normalize_name(ecosystem, name)), set()
            )
            named.update(affected.get("versions", []))
            for range_ in affected.get("ranges", []):
                for event in range_["events"]:
                    named.update(v for v in event.values() if isinstance(v, str))
    return out


def assert_same_answers(index: AdvisoryIndex, key: tuple[str, str], versions: Iterable[str]) -> int:
    """Compare the index's (pruned, memoized) answers with the plain ones; returns the checks."""
    checked = 0
    entries = index.entries[key]
    for version in sorted(versions):
        plain = evaluate(entries, version)
        assert index.matches(*key, version) == plain, (key, version)
        checked += 1
    return checked


@pytest.mark.parametrize("dense", [True, False])
def test_pruned_answers_equal_plain_ones_on_synthetic_data(dense: bool) -> None:
    records = list(synthetic.records(1500, seed=7, dense=dense))
    index = index_of(records)
    installed: dict[str, set[str]] = {}
    for packages in synthetic.package_lists(5):
        for p in packages:
            installed.setdefault(index_ecosystem(p.ecosystem), set()).add(p.version)
    junk = {"0", "0.0.1", "99.0.0", "not a version!", "1.2.3~rc1-1", ""}
    checked = 0
    # Each key's own boundaries (hits exactly on a fixed or introduced), and installed versions.
    for key, named in versions_named(records).items():
        asked = named | set(sorted(installed.get(key[0], ()))[:: 1 + len(named)]) | junk
        checked += assert_same_answers(index, key, asked)
    assert checked > 10_000


def _record(number: int, *affected: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"EDGE-{number}", "modified": "2024-01-01T00:00:00Z", "affected": list(affected)}


def _affected(
    ecosystem: str,
    name: str,
    *ranges: tuple[str, list[dict[str, str]]],
    versions: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": name},
        "ranges": [{"type": kind, "events": events} for kind, events in ranges],
    }
    if versions is not None:
        out["versions"] = versions
    return out


EDGE_RECORDS = [
    # PyPI "lib": one entry per kind of range.
    _record(1, _affected("PyPI", "lib", ("ECOSYSTEM", [{"introduced": "0"}, {"fixed": "1.0"}]))),
    _record(
        2,
        _affected("PyPI", "lib", ("ECOSYSTEM", [{"introduced": "1.2"}, {"last_affected": "1.4"}])),
    ),
    _record(
        3,
        _affected(
            "PyPI",
            "lib",
            ("ECOSYSTEM", [{"introduced": "0"}, {"fixed": "2.0"}, {"limit": "1.5"}]),
        ),
    ),
    _record(
        4,
        _affected(
            "PyPI",
            "lib",
            ("ECOSYSTEM", [{"introduced": "1.0"}, {"fixed": "1.1"}]),
            versions=["0.5", "3.0", "latest"],
        ),
    ),
    _record(  # SEMVER and ECOSYSTEM ranges in one entry
        5,
        _affected(
            "PyPI",
            "lib",
            ("SEMVER", [{"introduced": "1.3.0"}, {"fixed": "1.3.5"}]),
            ("ECOSYSTEM", [{"introduced": "2.5"}, {"fixed": "2.6"}]),
        ),
    ),
    _record(  # an unreadable boundary: the range has no order, the entry is always undecided
        6,
        _affected("PyPI", "lib", ("ECOSYSTEM", [{"introduced": "0"}, {"fixed": "one-two"}])),
    ),
    _record(  # two entries for the package in one advisory; the second one is open-ended
        7,
        _affected("PyPI", "lib", ("ECOSYSTEM", [{"introduced": "0.1"}, {"fixed": "0.2"}])),
        _affected("PyPI", "lib", ("ECOSYSTEM", [{"introduced": "4.0"}])),
    ),
    _record(  # an empty range, a limit "*", a GIT range and an unknown range type
        8,
        _affected(
            "PyPI",
            "lib",
            ("ECOSYSTEM", [{"introduced": "1.7"}, {"fixed": "1.7"}]),
            ("ECOSYSTEM", [{"introduced": "1.8"}, {"fixed": "1.9"}, {"limit": "*"}]),
            ("GIT", [{"introduced": "abc"}, {"fixed": "def"}]),
        ),
    ),
    _record(9, _affected("PyPI", "lib", ("UNKNOWN_TYPE", [{"introduced": "0"}]))),
    _record(  # several intervals in one range, with last_affected and fixed
        10,
        _affected(
            "PyPI",
            "lib",
            (
                "ECOSYSTEM",
                [
                    {"introduced": "0"},
                    {"fixed": "0.3"},
                    {"introduced": "1.1"},
                    {"last_affected": "1.1.5"},
                    {"introduced": "2.1"},
                    {"fixed": "2.2"},
                ],
            ),
        ),
    ),
    _record(  # limits below the fix
        11,
        _affected(
            "PyPI",
            "lib",
            ("ECOSYSTEM", [{"introduced": "0"}, {"limit": "0.4"}, {"limit": "1.05"}]),
        ),
    ),
    # Debian "src": explicit versions with ranges, and only explicit versions.
    _record(
        20,
        _affected(
            "Debian:12",
            "src",
            ("ECOSYSTEM", [{"introduced": "0"}, {"fixed": "1.2-3+deb12u1"}]),
            versions=["1.2-3", "2.0-1"],
        ),
    ),
    _record(21, _affected("Debian:12", "src", versions=["2.0-1", "2.1-1"])),
    _record(22, _affected("Debian:12", "src", ("ECOSYSTEM", [{"introduced": "1:0.5-1"}]))),
    # An ecosystem without an order: every range is undecided.
    _record(30, _affected("Maven", "org.example:lib", ("ECOSYSTEM", [{"introduced": "0"}]))),
    # Only an unreadable query version falls back.
    _record(
        40,
        _affected("npm", "pkg", ("SEMVER", [{"introduced": "0"}, {"last_affected": "1.0.0"}])),
    ),
]

EDGE_VERSIONS = {
    "0",
    "0.0.1",
    "0.25",
    "0.35",
    "0.9",
    "1.0.0",
    "1.0.1",
    "1.1.4",
    "1.1.5",
    "1.1.6",
    "1.3.2",
    "1.4.0",
    "1.4.1",
    "1.45",
    "1.75",
    "2.55",
    "9.9",
    "1!0.1",
    "1.0.0-rc.1",
    "1.2-2",
    "1.2-3+deb12u2",
    "1:0.4-1",
    "1:0.6-1",
    "99:1-1",
    "9.9.9",
    "latest",  # unreadable in PEP 440 and SemVer, but listed by EDGE-4
    "not a version!",
    "",
}


def test_pruned_answers_equal_plain_ones_on_edge_cases() -> None:
    index = index_of(EDGE_RECORDS)
    asked = EDGE_VERSIONS | set().union(*versions_named(EDGE_RECORDS).values())
    for key in index.entries:
        assert assert_same_answers(index, key, asked) == len(asked)


def test_edge_cases_cover_matches_undecided_and_fallbacks() -> None:
    """The edge cases are not vacuous: they find matches, fix hints and undecided entries."""
    index = index_of(EDGE_RECORDS)

    def found(version: str) -> tuple[list[tuple[str, str | None]], int]:
        matches, undecided = index.matches("PyPI", "lib", version)
        return [(m.advisory.id, m.fixed_version) for m in matches], undecided

    # 1.3.2 is SemVer too: EDGE-5 decides, EDGE-6 and EDGE-9 cannot; 1.05 is 1.5 in PEP 440.
    assert found("1.3.2") == (
        [("EDGE-2", None), ("EDGE-3", "2.0"), ("EDGE-5", "1.3.5"), ("EDGE-11", None)],
        2,
    )
    assert found("1.1.5") == ([("EDGE-3", "2.0"), ("EDGE-10", "2.2"), ("EDGE-11", None)], 2)
    # Not SemVer: EDGE-5 is undecided as well (the plan falls back to every entry).
    assert found("1.4") == ([("EDGE-2", None), ("EDGE-3", "2.0"), ("EDGE-11", None)], 3)
    assert found("9.9.9") == ([("EDGE-7", None)], 2)
    assert found("latest") == ([("EDGE-4", None)], 10)
    assert found("not a version!") == ([], 11)
    debian = index.matches("Debian:12", "src", "2.0-1")
    assert [m.advisory.id for m in debian[0]] == ["EDGE-20", "EDGE-21"]
    assert index.matches("Maven", "org.example:lib", "1.0") == ((), 1)


def test_candidates_are_few_for_a_version_above_every_fix() -> None:
    index = index_of(EDGE_RECORDS)
    index.matches("PyPI", "lib", "9.9.9")
    plan = index._plans[("PyPI", "lib")]
    chosen = plan.candidates("9.9.9", VersionKeys("9.9.9"))
    assert chosen is not None
    ids = [index.entries[("PyPI", "lib")][i].advisory.id for i in chosen]
    # No order (6, 9), open-ended (7; 11, whose limits the plan does not read).
    assert ids == ["EDGE-6", "EDGE-7", "EDGE-9", "EDGE-11"]
    assert plan.candidates("9.9", VersionKeys("9.9")) is None  # not SemVer, which EDGE-5 uses
