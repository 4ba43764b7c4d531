"""`portside scan REF` (in this process) and `portside vulndb import|status`.

Rich is imported where a table or a message is printed: `portside scan --format json` never
needs it, and a one-shot command's time is mostly imports. `portside scan --server` does not
come here at all (:mod:`portside.apiclient`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portside.db import migrate
from portside.db.engine import Database
from portside.registry.client import RegistryClient
from portside.security.scanning import advisory_store, oneshot
from portside.security.scanning.analyze import limits_of
from portside.security.scanning.render import finish
from portside.security.sources import state
from portside.settings import Settings
from portside.tokenserver.own import own_tokens


async def scan_command(
    settings: Settings,
    ref: str,
    output: str,
    *,
    reuse: bool = True,
    fail_on: str | None = None,
    ignore_unfixed: bool = False,
) -> int:
    """Scan ``ref`` in this process, with the configured database and registry (with
    ``reuse``, a stored scan of its digest by the background task is the answer); print it
    and return the gate's exit code (:func:`portside.security.scanning.render.finish`)."""
    async with Database(settings.database_url) as db:
        await migrate.wait_until_ready(db, 0)  # a command says at once what is wrong
        async with RegistryClient(
            settings.registry, token_source=own_tokens(settings, db)
        ) as client:
            repository, reference, digest = await oneshot.resolve(client, ref)
            limits = limits_of(settings.background.scan)
            report = await oneshot.answer(
                db,
                client,
                limits,
                repository,
                reference,
                digest,
                reuse=reuse,
                stale_after=timedelta(days=settings.vulndb.stale_after),
            )
    return finish(report, output, fail_on=fail_on, ignore_unfixed=ignore_unfixed)


async def import_command(settings: Settings, path: Path) -> int:
    from rich.console import Console

    from portside.security.scanning.rematch import describe_new, rematch  # not needed by `scan`

    err = Console(stderr=True)
    async with Database(settings.database_url) as db:
        await migrate.wait_until_ready(db, 0)  # a command says at once what is wrong
        now = datetime.now(UTC)
        # A hand import is a source too: its data's age and ecosystems are shown with the rest.
        uri = (await asyncio.to_thread(path.resolve)).as_uri()
        sid, _ = await state.source_id(db, uri)
        result = await advisory_store.import_path(db, path, now, source_id=sid)
        await state.record_success(
            db,
            sid,
            now,
            etag=None,
            last_modified=None,
            records=result.records,
            ecosystems=result.ecosystems,
        )
        rematched = await rematch(
            db, now, result.changed_keys, workers=settings.vulndb.rematch_workers
        )
    err.print(
        f"imported {result.records} records ({result.changed} new or changed, "
        f"{len(result.problems)} refused); re-matched {rematched.images} images, "
        f"{rematched.changed} changed"
        + (f": {describe_new(rematched.new_findings)}" if rematched.new_findings else ""),
        highlight=False,
    )
    for problem in result.problems[:20]:
        err.print(f"refused: {problem}", highlight=False, markup=False)
    return 0


async def update_command(settings: Settings) -> int:
    """`portside vulndb update`: fetch every source now (due or not), with a progress bar;
    1 when any source failed."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from portside.security.scanning.rematch import describe_new
    from portside.security.sources.update import sources_now, update_round

    err = Console(stderr=True)
    async with Database(settings.database_url) as db:
        await migrate.wait_until_ready(db, 0)  # a command says at once what is wrong
        if not await sources_now(db, settings.vulndb):
            err.print(
                "no sources: set vulndb.sources, or scan images first (the default sources are "
                "the OSV archives of the ecosystems found in scanned images)",
                highlight=False,
                markup=False,
            )
            return 1
        with Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err
        ) as bar:

            def progress(url: str):  # type: ignore[no-untyped-def]
                task = bar.add_task(url, total=None)

                def advance(done: int, total: int | None) -> None:
                    bar.update(task, completed=done, total=total)

                return advance

            outcome = await update_round(
                db,
                settings.vulndb,
                settings.data_dir / "vulndb",
                lambda: datetime.now(UTC),
                force=True,
                progress=progress,
            )
    for source in outcome.sources:
        if source.error is not None:
            line = f"{source.url}: failed: {source.error}"
        elif source.not_modified:
            line = f"{source.url}: not modified ({source.records} records)"
        else:
            line = (
                f"{source.url}: {source.records} records ({source.changed} new or changed, "
                f"{source.withdrawn} withdrawn, {source.problems} refused)"
            )
        err.print(line, highlight=False, markup=False, soft_wrap=True)
    if outcome.rematched is not None:
        new = describe_new(outcome.rematched.new_findings)
        err.print(
            f"re-matched {outcome.rematched.images} images, {outcome.rematched.changed} changed"
            + (f": {new}" if new else ""),
            highlight=False,
        )
    return 1 if outcome.failed else 0


async def status_command(settings: Settings) -> int:
    from portside.reads import vulndata  # not needed by `scan`

    async with Database(settings.database_url) as db:
        await migrate.wait_until_ready(db, 0)  # a command says at once what is wrong
        async with db.read() as session:
            state = await advisory_store.status(session)
            data = await vulndata.vulndata(session, settings, datetime.now(UTC))
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not state.advisories:
        Console(stderr=True).print(
            "no advisories are loaded, so scans find packages but no vulnerabilities. Run "
            "`portside vulndb update` (it fetches vulndb.sources: by default osv.dev's archives "
            "for the ecosystems of your scanned images; the background process does it on its "
            "own), or download archives (e.g. "
            "https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip) and run "
            "`portside vulndb import FILE.zip` (a folder of OSV JSON files works too)",
            highlight=False,
            markup=False,
        )
        return 1
    console.print(f"advisories: {state.advisories} ({state.withdrawn} withdrawn)")
    console.print(f"newest record modified: {state.newest_modified or 'never'}")
    console.print(f"last import: {state.last_import or 'never'} from {state.last_source or '-'}")
    table = Table("ecosystem", "advisories", "last update", "state")
    for row in data.ecosystems:
        fresh = "age unknown" if row.last_success is None else "stale" if row.stale else "fresh"
        table.add_row(row.ecosystem, str(row.records), str(row.last_success or "-"), fresh)
    console.print(table)
    sources = Table("source", "records", "last success", "failures", "last error")
    for source in data.sources:
        sources.add_row(
            source.url,
            str(source.records),
            str(source.last_success or "-"),
            str(source.failures),
            source.last_error or "",
        )
    if data.sources:
        console.print(sources)
    return 0 if state.advisories else 1
