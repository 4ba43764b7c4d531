"""One update round: fetch each due source, verify it, import what changed, withdraw what left
it, then match the scanned images again. A source that fails leaves its stored data as it was
and is tried again after a back-off; the others go on."""

from __future__ import annotations

import asyncio
import logging
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from portside.db.engine import Database
from portside.security.advisories.errors import VulnDataError
from portside.security.advisories.load import LoadLimits
from portside.security.scanning import advisory_store
from portside.security.scanning.rematch import RematchResult, rematch
from portside.security.sources import state
from portside.security.sources.fetch import FetchFailed, Progress, Validators, fetch
from portside.settings import VulndbSettings

log = logging.getLogger(__name__)


class ArchiveRefused(VulnDataError):
    """A downloaded archive that is not a sound zip of OSV records (nothing is imported)."""


@dataclass
class SourceResult:
    url: str
    not_modified: bool = False
    records: int = 0
    changed: int = 0
    withdrawn: int = 0
    problems: int = 0
    error: str | None = None


@dataclass
class RoundResult:
    sources: list[SourceResult] = field(default_factory=list)
    rematched: RematchResult | None = None

    @property
    def failed(self) -> list[SourceResult]:
        return [s for s in self.sources if s.error is not None]


def verify_archive(path: Path, limits: LoadLimits) -> None:
    """Refuse an archive that is not a whole zip (a truncated download), whose members would
    inflate past the bounds, or whose data fails its checksums."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            total = 0
            for member in members:
                if member.file_size > limits.max_file_bytes:
                    raise ArchiveRefused(
                        f"{member.filename}: {member.file_size} bytes, over the "
                        f"{limits.max_file_bytes}-byte limit"
                    )
                total += member.file_size
            if total > limits.max_total_bytes:
                raise ArchiveRefused(f"{total} bytes inflated, over {limits.max_total_bytes}")
            bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ArchiveRefused(f"not a readable zip archive: {exc}") from exc
    if bad is not None:
        raise ArchiveRefused(f"corrupt member {bad}")


async def update_source(
    db: Database,
    url: str,
    settings: VulndbSettings,
    work_dir: Path,
    now: datetime,
    *,
    progress: Progress | None = None,
) -> tuple[SourceResult, set[tuple[str, str]]]:
    """Fetch, verify and import one source; its result and the package keys to re-match."""
    result = SourceResult(url)
    sid, row = await state.source_id(db, url)
    known = Validators(row.etag, row.last_modified)
    try:
        fetched = await fetch(
            url,
            work_dir,
            known,
            max_bytes=settings.max_archive_bytes,
            time_limit=settings.timeout,
            progress=progress,
        )
    except FetchFailed as exc:
        return await _failed(db, sid, now, result, exc), set()
    if fetched.path is None:
        result.not_modified = True
        result.records = row.records
        await state.record_success(db, sid, now, etag=known.etag, last_modified=known.last_modified)
        return result, set()
    try:
        limits = LoadLimits()
        await asyncio.to_thread(verify_archive, fetched.path, limits)
        imported = await advisory_store.import_path(db, fetched.path, now, source_id=sid, label=url)
        withdrawn, gone_keys = await advisory_store.withdraw_missing(db, sid, imported.ids)
    except VulnDataError as exc:
        return await _failed(db, sid, now, result, exc), set()
    finally:
        fetched.path.unlink(missing_ok=True)
    result.records = imported.records
    result.changed = imported.changed
    result.withdrawn = len(withdrawn)
    result.problems = len(imported.problems)
    await state.record_success(
        db,
        sid,
        now,
        etag=fetched.validators.etag,
        last_modified=fetched.validators.last_modified,
        records=imported.records,
        ecosystems=imported.ecosystems,
    )
    log.info(
        "vulndb: %s: %d records (%d new or changed, %d withdrawn, %d refused)",
        url,
        result.records,
        result.changed,
        result.withdrawn,
        result.problems,
        extra={"source": url, "records": result.records, "changed": result.changed},
    )
    return result, imported.changed_keys | gone_keys


async def _failed(
    db: Database, sid: int, now: datetime, result: SourceResult, exc: Exception
) -> SourceResult:
    result.error = str(exc) or type(exc).__name__
    log.warning("vulndb: %s: %s", result.url, result.error, extra={"source": result.url})
    await state.record_failure(db, sid, now, result.error)
    return result


async def sources_now(db: Database, settings: VulndbSettings) -> list[str]:
    """The sources to keep current: the configured ones, or those of the images' ecosystems."""
    if settings.sources is not None:
        return list(settings.sources)
    async with db.read() as session:
        ecosystems = await state.image_ecosystems(session)
    return state.configured_sources(settings, ecosystems)


async def update_round(
    db: Database,
    settings: VulndbSettings,
    work_dir: Path,
    clock: Callable[[], datetime],
    *,
    force: bool = False,
    progress: Callable[[str], Progress] | None = None,
    urls: list[str] | None = None,
) -> RoundResult:
    """Update every due source of ``urls`` (default: :func:`sources_now`; every one with
    ``force``), then re-match once."""
    outcome = RoundResult()
    if urls is None:
        urls = await sources_now(db, settings)
    async with db.read() as session:
        known = {row.url: row for row in await state.load_all(session)}
    keys: set[tuple[str, str]] = set()
    for url in urls:
        row = known.get(url)
        view = (
            state.SourceView(url, row.last_attempt, row.last_success, row.failures or 0)
            if row is not None
            else None
        )
        if not force and not state.due(view, clock(), settings):
            continue
        result, changed = await update_source(
            db, url, settings, work_dir, clock(), progress=progress(url) if progress else None
        )
        outcome.sources.append(result)
        keys |= changed
    if keys:
        outcome.rematched = await rematch(db, clock(), keys, workers=settings.rematch_workers)
    return outcome
