"""Read OSV advisories from a folder of ``*.json`` files or a ``.zip`` (osv.dev's ``all.zip``).

Reading streams: :func:`read_advisories` (and :func:`read_records`, which also gives each record
as read) is a generator that holds one file's records at a time.
It is bounded: a file or zip member over ``LoadLimits.max_file_bytes`` is refused unread, a zip
member that inflates suspiciously (``max_ratio``) is refused, and so is everything past
``max_total_bytes``. A file that cannot be used (unreadable, corrupt, not JSON, no id...) is
recorded in the :class:`LoadReport` with its name and the reason, and the import goes on; only a
source that cannot be opened at all raises :class:`SourceUnreadable`. So is a record no database
could store: one with a NUL character anywhere, or an id over ``MAX_ID`` characters.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from portside.security.advisories.errors import InvalidAdvisory, SourceUnreadable, VulnDataError
from portside.security.advisories.osv import Advisory, parse_advisory

_MIB = 1024 * 1024
MAX_ID = 255  # the longest advisory id stored


@dataclass(frozen=True)
class LoadLimits:
    max_file_bytes: int = 16 * _MIB  # one JSON file or zip member, uncompressed
    max_ratio: int = 100  # uncompressed / compressed size of a zip member...
    ratio_floor_bytes: int = _MIB  # ...checked for members larger than this
    max_total_bytes: int = 4096 * _MIB  # everything read from one source


@dataclass(frozen=True)
class LoadProblem:
    source: str  # the file's path, or the member's name inside the archive
    reason: str


@dataclass
class LoadReport:
    files: int = 0  # JSON files or members read
    advisories: int = 0  # advisories yielded
    problems: list[LoadProblem] = field(default_factory=list)  # records not imported
    notes: list[LoadProblem] = field(default_factory=list)  # imported, with parts skipped


class _Refused(VulnDataError):
    """A file that is not imported; its message is the reason."""


def read_advisories(
    path: str | os.PathLike[str],
    report: LoadReport | None = None,
    *,
    limits: LoadLimits | None = None,
) -> Iterator[Advisory]:
    """Advisories from ``path`` (a folder, searched recursively, or a ``.zip``), one at a time."""
    for _, advisory in read_records(path, report, limits=limits):
        yield advisory


def read_records(
    path: str | os.PathLike[str],
    report: LoadReport | None = None,
    *,
    limits: LoadLimits | None = None,
) -> Iterator[tuple[dict[str, object], Advisory]]:
    """Like :func:`read_advisories`, with each record as read (to store it as imported)."""
    for _, record, advisory in read_located(path, report, limits=limits):
        yield record, advisory


def read_located(
    path: str | os.PathLike[str],
    report: LoadReport | None = None,
    *,
    limits: LoadLimits | None = None,
) -> Iterator[tuple[str, dict[str, object], Advisory]]:
    """Like :func:`read_records`, with where each record was read (its file, or the file and
    its index in a list) first."""
    report = report if report is not None else LoadReport()
    limits = limits or LoadLimits()
    for source, data in _documents(Path(path), report, limits):
        report.files += 1
        try:
            records = _decode(data)
        except _Refused as exc:
            report.problems.append(LoadProblem(source, str(exc)))
            continue
        may_hold_nul = b"\\u0000" in data  # JSON can only carry a NUL escaped
        for index, record in enumerate(records):
            where = source if len(records) == 1 else f"{source}[{index}]"
            if may_hold_nul and has_nul(record):
                report.problems.append(LoadProblem(where, NUL_REFUSED))
                continue
            try:
                parsed = parse_advisory(record)
            except InvalidAdvisory as exc:
                report.problems.append(LoadProblem(where, str(exc)))
                continue
            assert isinstance(record, dict)  # JSON objects decode to dicts
            if len(parsed.advisory.id) > MAX_ID:
                report.problems.append(LoadProblem(where, f"an id over {MAX_ID} characters"))
                continue
            report.notes.extend(LoadProblem(where, reason) for reason in parsed.skipped)
            report.advisories += 1
            yield where, record, parsed.advisory


NUL_REFUSED = "a NUL character (\\u0000) in the record, which a database cannot store"


def has_nul(value: object) -> bool:
    """Whether a decoded JSON value holds a NUL character in any string, key or value.
    (Its depth is bounded by the JSON decoder's own recursion limit.)"""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def _decode(data: bytes) -> list[object]:
    try:
        document = json.loads(data)
    except UnicodeDecodeError as exc:
        raise _Refused(f"not UTF-8 text: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise _Refused(f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    except RecursionError as exc:
        raise _Refused("JSON nested too deeply") from exc
    # A file holds one record; some feeds publish a list of records in one file.
    return document if isinstance(document, list) else [document]


def _documents(path: Path, report: LoadReport, limits: LoadLimits) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        yield from _folder(path, report, limits)
    elif path.is_file() and path.suffix.lower() == ".zip":
        yield from _archive(path, report, limits)
    elif path.is_file() and path.suffix.lower() == ".json":
        yield from _files([path], report, limits, _Budget(limits.max_total_bytes))
    else:
        raise SourceUnreadable(f"{path}: not a folder, a .zip or a .json file")


class _Budget:
    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, size: int) -> None:
        if size > self.left:
            raise _Refused("the source's total size limit is reached")
        self.left -= size


def _folder(root: Path, report: LoadReport, limits: LoadLimits) -> Iterator[tuple[str, bytes]]:
    budget = _Budget(limits.max_total_bytes)

    def fail(error: OSError) -> None:
        report.problems.append(LoadProblem(str(error.filename), f"cannot list: {error.strerror}"))

    for folder, subfolders, names in os.walk(root, onerror=fail):
        subfolders.sort()
        paths = (Path(folder) / n for n in sorted(names) if n.lower().endswith(".json"))
        yield from _files(paths, report, limits, budget)


def _files(
    paths: Iterable[Path], report: LoadReport, limits: LoadLimits, budget: _Budget
) -> Iterator[tuple[str, bytes]]:
    for file in paths:
        try:
            yield str(file), _read_file(file, limits, budget)
        except _Refused as exc:
            report.problems.append(LoadProblem(str(file), str(exc)))


def _read_file(file: Path, limits: LoadLimits, budget: _Budget) -> bytes:
    try:
        if not file.is_file():
            raise _Refused("not a regular file")
        size = file.stat().st_size
        if size > limits.max_file_bytes:
            raise _Refused(f"{size} bytes, over the {limits.max_file_bytes}-byte limit")
        budget.take(size)
        with file.open("rb") as stream:
            data = stream.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise _Refused(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > limits.max_file_bytes:
        raise _Refused(f"over the {limits.max_file_bytes}-byte limit (it grew while read)")
    return data


def _archive(path: Path, report: LoadReport, limits: LoadLimits) -> Iterator[tuple[str, bytes]]:
    budget = _Budget(limits.max_total_bytes)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise SourceUnreadable(f"{path}: not a readable zip archive: {exc}") from exc
    with archive:
        for member in archive.infolist():
            if member.is_dir() or not member.filename.lower().endswith(".json"):
                continue
            try:
                yield member.filename, _read_member(archive, member, limits, budget)
            except _Refused as exc:
                report.problems.append(LoadProblem(member.filename, str(exc)))


def _read_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: LoadLimits, budget: _Budget
) -> bytes:
    size = member.file_size
    if size > limits.max_file_bytes:
        raise _Refused(f"{size} bytes uncompressed, over the {limits.max_file_bytes}-byte limit")
    ratio = size / max(member.compress_size, 1)
    if size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
        raise _Refused(f"compression ratio {ratio:.0f}:1 over {limits.max_ratio}:1 (zip bomb?)")
    budget.take(size)
    try:
        with archive.open(member) as stream:
            # zipfile stops at the declared size; read one byte more to be sure of it.
            data = stream.read(limits.max_file_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
        raise _Refused(f"corrupt member: {exc}") from exc
    except RuntimeError as exc:  # an encrypted member
        raise _Refused(f"unreadable member: {exc}") from exc
    if len(data) > limits.max_file_bytes:
        raise _Refused(f"over the {limits.max_file_bytes}-byte limit once inflated")
    return data
