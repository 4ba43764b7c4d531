"""What the matcher needs of an advisory, in a small stored form (pure).

A re-match loads every advisory of the packages at hand: parsing each whole OSV record again
(its details, references, CVSS vectors, every ``affected`` entry) was half of loading them. The
import therefore stores, beside the record, the two parts the matcher reads:

- per index key (``advisory_packages.affected``): the record's ``affected`` entries for that
  package, as :func:`affected_form` writes them: ``{"ecosystem", "versions", "ranges":
  [{"type", "events": [[kind, version], ...]}]}``;
- per advisory (``advisories.brief``): what a finding reports of it, as :func:`brief_form`
  writes it: ``{"aliases", "related", "cvss_score", "links"}`` (its severity and summary have
  columns of their own).

Reading them back (:func:`affected_of`, :func:`ref_of`) gives what :func:`portside.security.
advisories.osv.parse_advisory` gives for the same parts, so an index built from them answers as
one built from the records (a test compares the two on the real records). The loader compiles
an entry straight from its form (:func:`compiled_of`, what compiling :func:`affected_of`'s
entry gives, as the same test checks). A form that is not what these functions write raises
:class:`ValueError`; the caller then parses the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.security.advisories.index import AdvisoryRef, key_of
from portside.security.advisories.osv import Advisory, Affected, Event, EventKind, Range, RangeType
from portside.security.advisories.versions import (
    CompiledAffected,
    compile_events,
    compile_parts,
)
from portside.security.severity import Severity

LINKS = 10  # references a finding reports

_KINDS = {kind.value: kind for kind in EventKind}
_TYPES = {kind.name: kind for kind in RangeType}  # as RangeType.__members__ names them
_HINTED = (RangeType.ECOSYSTEM, RangeType.SEMVER)  # ranges whose ``fixed`` give fix hints
_SEVERITIES = {level.value: level for level in Severity}


def affected_forms(advisory: Advisory) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """An advisory's ``affected`` entries by index key, in stored form, in record order."""
    forms: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for affected in advisory.affected:
        forms.setdefault(key_of(affected), []).append(affected_form(affected))
    return forms


def affected_form(affected: Affected) -> dict[str, Any]:
    return {
        "ecosystem": affected.ecosystem,
        "name": affected.name,
        "versions": sorted(affected.versions),
        "ranges": [
            {"type": r.raw_type, "events": [[e.kind.value, e.version] for e in r.events]}
            for r in affected.ranges
        ],
    }


def affected_of(form: Any) -> Affected:
    """An ``affected`` entry back from :func:`affected_form` (its purl, which matching does not
    read, is not kept)."""
    ecosystem, name, versions, raw_ranges = _entry_parts(form)
    ranges = [_range_of(raw) for raw in raw_ranges]
    fixed = (
        e.version
        for r in ranges
        if r.type in _HINTED
        for e in r.events
        if e.kind is EventKind.FIXED
    )
    return Affected(
        ecosystem=ecosystem,
        name=name,
        purl=None,
        ranges=tuple(ranges),
        versions=frozenset(map(str, versions)),
        fixed_versions=tuple(dict.fromkeys(fixed)),
    )


def compiled_of(form: Any) -> CompiledAffected:
    """:func:`compile_affected` of :func:`affected_of` (the same entry, the same errors), built
    straight from the form: a re-match loads tens of thousands of them."""
    ecosystem, _, versions, raw_ranges = _entry_parts(form)
    compiled = []
    fixed: dict[str, None] = {}
    for raw in raw_ranges:
        range_type, raw_type, events = _range_parts(raw)
        if range_type in _HINTED:
            fixed.update((version, None) for kind, version in events if kind is EventKind.FIXED)
        compiled.append(compile_events(ecosystem, range_type, raw_type, events))
    return compile_parts(frozenset(map(str, versions)), compiled, fixed)


def _entry_parts(form: Any) -> tuple[str, str, list[Any], list[Any]]:
    """A stored ``affected`` entry's ecosystem, name, versions and ranges (unread)."""
    if not isinstance(form, Mapping):
        raise ValueError("a stored affected entry is not an object")
    ecosystem, name = form.get("ecosystem"), form.get("name")
    versions, raw_ranges = form.get("versions"), form.get("ranges")
    if not (isinstance(ecosystem, str) and isinstance(name, str)):
        raise ValueError("a stored affected entry without its ecosystem and name")
    if not (isinstance(versions, list) and isinstance(raw_ranges, list)):
        raise ValueError("a stored affected entry without its versions and ranges")
    return ecosystem, name, versions, raw_ranges


def _range_of(raw: Any) -> Range:
    range_type, raw_type, events = _range_parts(raw)
    return Range(range_type, tuple(Event(kind, version) for kind, version in events), raw_type)


def _range_parts(raw: Any) -> tuple[RangeType, str, list[tuple[EventKind, str]]]:
    """A stored range's type, its type as written and its (kind, version) events."""
    if not isinstance(raw, Mapping):
        raise ValueError("a stored range is not an object")
    raw_type, events = raw.get("type"), raw.get("events")
    if not (isinstance(raw_type, str) and isinstance(events, list)):
        raise ValueError("a stored range without its type and events")
    try:
        read = [(_KINDS[kind], str(version)) for kind, version in events]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a stored range with an unreadable event: {exc}") from None
    return _TYPES.get(raw_type, RangeType.UNKNOWN), raw_type, read


def brief_form(advisory: Advisory) -> dict[str, Any]:
    return {
        "aliases": list(advisory.aliases),
        "related": list(dict.fromkeys((*advisory.upstream, *advisory.related))),
        "cvss_score": advisory.cvss_score,
        "links": list(advisory.references[:LINKS]),
    }


def ref_of(advisory_id: str, severity: str, form: Any) -> AdvisoryRef:
    """An advisory's :class:`AdvisoryRef` from its id, severity column and brief form."""
    if not isinstance(form, Mapping):
        raise ValueError("a stored brief is not an object")
    aliases, related, score = form.get("aliases"), form.get("related"), form.get("cvss_score")
    if not (isinstance(aliases, list) and isinstance(related, list)):
        raise ValueError("a stored brief without its aliases and related ids")
    return AdvisoryRef(
        advisory_id,
        tuple(map(str, aliases)),
        tuple(map(str, related)),
        _SEVERITIES.get(severity, Severity.UNKNOWN),
        float(score) if isinstance(score, int | float) else None,
    )


def links_of(form: Any) -> list[str]:
    links = form.get("links") if isinstance(form, Mapping) else None
    return [str(link) for link in links] if isinstance(links, list) else []
