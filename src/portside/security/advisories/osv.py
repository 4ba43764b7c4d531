"""OSV records (JSON objects) parsed into normalized, immutable advisories.

The parser is tolerant: a part it cannot use (an ``affected`` entry without a package, a range
with a malformed event, a non-string alias) is skipped and the reason is returned with the
advisory, so an import can report it. Only a record that is not an object or has no ``id`` is
refused (:class:`InvalidAdvisory`). Nothing is decided here about versions: a range of an unknown
type is kept (it never matches), and a withdrawn advisory is kept but flagged (the matcher
ignores it). Schema: https://ossf.github.io/osv-schema/
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from portside.security.advisories.errors import InvalidAdvisory
from portside.security.advisories.severity import assess
from portside.security.severity import Severity

_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})?$", re.ASCII
)
_UNREADABLE_WITHDRAWAL = datetime(1970, 1, 1, tzinfo=UTC)


class RangeType(enum.StrEnum):
    ECOSYSTEM = "ECOSYSTEM"
    SEMVER = "SEMVER"
    GIT = "GIT"
    UNKNOWN = "UNKNOWN"  # kept, never matches; the record's spelling is in Range.raw_type


class EventKind(enum.StrEnum):
    INTRODUCED = "introduced"
    FIXED = "fixed"
    LAST_AFFECTED = "last_affected"
    LIMIT = "limit"


# (kind, its key in an event object), listed once: iterating the enum for every event of every
# record was a noticeable part of loading advisories.
_EVENT_KEYS = tuple((kind, kind.value) for kind in EventKind)


@dataclass(frozen=True)
class Event:
    kind: EventKind
    version: str


@dataclass(frozen=True)
class Range:
    type: RangeType
    events: tuple[Event, ...]  # in the record's order
    raw_type: str = ""


@dataclass(frozen=True)
class Affected:
    ecosystem: str
    name: str
    purl: str | None
    ranges: tuple[Range, ...]
    versions: frozenset[str]
    fixed_versions: tuple[str, ...]  # every ECOSYSTEM/SEMVER ``fixed``, in order, for fix hints


@dataclass(frozen=True)
class Advisory:
    id: str
    modified: datetime | None
    published: datetime | None
    withdrawn: datetime | None
    aliases: tuple[str, ...]  # the same vulnerability in other databases
    upstream: tuple[str, ...]  # the upstream records this one derives from (often the CVE)
    related: tuple[str, ...]  # closely related records (older Ubuntu records name the CVE here)
    summary: str
    details: str
    severity: Severity
    cvss_vector: str | None
    cvss_score: float | None
    references: tuple[str, ...]  # URLs
    affected: tuple[Affected, ...]

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn is not None


@dataclass(frozen=True)
class ParsedAdvisory:
    advisory: Advisory
    skipped: tuple[str, ...]  # each part that was left out, with the reason


def parse_timestamp(value: object) -> datetime | None:
    """An RFC 3339 timestamp (any number of fractional digits; no zone = UTC), or None."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        return None
    day, time, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z", "z") else zone
    text = f"{day}T{time}" + (f".{(fraction + '000000')[:6]}" if fraction else "") + zone
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(item for item in value if isinstance(item, str) and item))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _event(raw: object) -> Event:
    if not isinstance(raw, Mapping):
        raise ValueError("an event is not an object")
    found = [(kind, raw[key]) for kind, key in _EVENT_KEYS if key in raw]
    if len(found) != 1:
        raise ValueError(f"an event has {len(found)} of introduced/fixed/last_affected/limit")
    kind, version = found[0]
    if not isinstance(version, str) or not version:
        raise ValueError(f"an event whose {kind.value} is not a version string")
    return Event(kind, version)


def _range(raw: object) -> Range:
    if not isinstance(raw, Mapping):
        raise ValueError("a range is not an object")
    raw_type = raw.get("type")
    if not isinstance(raw_type, str):
        raise ValueError("a range without a type")
    events = raw.get("events")
    if not isinstance(events, list) or not events:
        raise ValueError(f"a {raw_type} range without events")
    range_type = RangeType(raw_type) if raw_type in RangeType.__members__ else RangeType.UNKNOWN
    return Range(range_type, tuple(_event(e) for e in events), raw_type)


def _affected(raw: object, skipped: list[str]) -> Affected:
    if not isinstance(raw, Mapping):
        raise ValueError("an affected entry is not an object")
    package = raw.get("package")
    if not isinstance(package, Mapping):
        raise ValueError("an affected entry without a package")
    ecosystem, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not ecosystem or not isinstance(name, str) or not name:
        raise ValueError("an affected package without an ecosystem or a name")
    ranges: list[Range] = []
    raw_ranges = raw.get("ranges")
    for index, raw_range in enumerate(raw_ranges if isinstance(raw_ranges, list) else []):
        try:
            ranges.append(_range(raw_range))
        except ValueError as exc:
            skipped.append(f"{ecosystem}/{name} range {index}: {exc}")
    fixed = (
        e.version
        for r in ranges
        if r.type in (RangeType.ECOSYSTEM, RangeType.SEMVER)
        for e in r.events
        if e.kind is EventKind.FIXED
    )
    purl = package.get("purl")
    return Affected(
        ecosystem=ecosystem,
        name=name,
        purl=purl if isinstance(purl, str) and purl else None,
        ranges=tuple(ranges),
        versions=frozenset(_strings(raw.get("versions"))),
        fixed_versions=tuple(dict.fromkeys(fixed)),
    )


def _withdrawn(record: Mapping[str, object], skipped: list[str]) -> datetime | None:
    if record.get("withdrawn") in (None, ""):
        return None
    when = parse_timestamp(record["withdrawn"])
    if when is None:
        skipped.append("withdrawn: unreadable timestamp; treated as withdrawn")
        return _UNREADABLE_WITHDRAWAL
    return when


def parse_advisory(record: object) -> ParsedAdvisory:
    """Parse one OSV record; raises :class:`InvalidAdvisory` if it has no usable id."""
    if not isinstance(record, Mapping):
        raise InvalidAdvisory(f"an OSV record must be a JSON object, not {type(record).__name__}")
    advisory_id = record.get("id")
    if not isinstance(advisory_id, str) or not advisory_id.strip():
        raise InvalidAdvisory("an OSV record without an id")
    skipped: list[str] = []
    modified = parse_timestamp(record.get("modified"))
    if modified is None:
        skipped.append("modified: missing or unreadable timestamp")
    affected: list[Affected] = []
    raw_affected = record.get("affected")
    for index, raw in enumerate(raw_affected if isinstance(raw_affected, list) else []):
        try:
            affected.append(_affected(raw, skipped))
        except ValueError as exc:
            skipped.append(f"affected {index}: {exc}")
    references = record.get("references")
    urls = _strings(
        [r.get("url") for r in references if isinstance(r, Mapping)]
        if isinstance(references, list)
        else []
    )
    info = assess(record)
    advisory = Advisory(
        id=advisory_id.strip(),
        modified=modified,
        published=parse_timestamp(record.get("published")),
        withdrawn=_withdrawn(record, skipped),
        aliases=_strings(record.get("aliases")),
        upstream=_strings(record.get("upstream")),
        related=_strings(record.get("related")),
        summary=_text(record.get("summary")),
        details=_text(record.get("details")),
        severity=info.severity,
        cvss_vector=info.cvss_vector,
        cvss_score=info.cvss_score,
        references=urls,
        affected=tuple(affected),
    )
    return ParsedAdvisory(advisory, tuple(skipped))
