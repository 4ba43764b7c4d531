"""``portside import-portus DSN [--dry-run]``: bring a Portus installation's accounts over.

Exit codes: 0 every row brought (or deliberately skipped); 1 some rows could not be brought
(the rest were), or the Portus or Portside database failed; 2 a bad DSN or usage. The DSN's
password is never printed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from portside.portus.plan import KINDS, NOT_INDEXED, Outcome, Plan

if TYPE_CHECKING:
    from rich.console import Console

    from portside.settings import Settings

COLUMNS = (Outcome.CREATE, Outcome.UPDATE, Outcome.UNCHANGED, Outcome.SKIP, Outcome.REFUSE)
MAX_LISTED = 200  # rows not brought listed one by one; past this, counted
SKIPS_NAMED = 3  # skipped rows named one by one per reason; more are counted


async def import_portus(settings: Settings, dsn_text: str, *, dry_run: bool) -> tuple[Plan, str]:
    """Read Portus, plan, and (unless ``dry_run``) apply in one transaction; the plan as it
    went and the DSN as shown."""
    from portside.db import migrate
    from portside.db.engine import Database
    from portside.index.store import ensure_registry
    from portside.portus import apply, plan, read

    dsn = read.parse_dsn(dsn_text)
    data = await read.read_portus(dsn)
    now = datetime.now(UTC)
    async with Database(settings.database_url) as db:
        await migrate.wait_until_ready(db, 0)
        if dry_run:
            async with db.read() as session:
                return plan.plan(data, await apply.existing(session)), dsn.shown()
        async with db.write() as session:
            planned = plan.plan(data, await apply.existing(session))
            if not planned.changes_anything:
                return planned, dsn.shown()
            registry_id = await ensure_registry(session, settings.registry.url or "", now)
            return await apply.apply(session, planned, now, registry_id=registry_id), dsn.shown()


def report(out: Console, done: Plan, shown: str, *, dry_run: bool) -> None:
    from rich.table import Table

    table = Table(title=f"Portus {shown}")
    table.add_column("kind")
    for outcome in COLUMNS:
        table.add_column(f"{outcome.value}", justify="right")
    for kind, counts in done.counts().items():
        if kind in KINDS:
            table.add_row(kind, *(str(counts[outcome]) for outcome in COLUMNS))
    out.print(table)
    refused = done.of(Outcome.REFUSE)
    for step in refused[:MAX_LISTED]:
        _line(out, f"not brought: {step.kind} {step.key}: {step.reason}")
    if len(refused) > MAX_LISTED:
        _line(out, f"... and {len(refused) - MAX_LISTED} more rows not brought")
    _skips(out, done)
    if not done.changes_anything:
        out.print("nothing to change: Portside already has everything this import brings")
    elif dry_run:
        out.print("dry run: nothing written (the created and updated rows would be)")


def _line(out: Console, text: str) -> None:
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def _skips(out: Console, done: Plan) -> None:
    # Skips are on purpose: grouped by reason, the rows named when they are few.
    groups: dict[tuple[str, str], list[str]] = {}
    for step in done.of(Outcome.SKIP):
        groups.setdefault((step.kind, step.reason), []).append(step.key)
    for (kind, reason), keys in groups.items():
        if reason == NOT_INDEXED:
            _line(
                out,
                f"skipped: {len(keys)} tag authors (Portside has not indexed those tags yet: "
                "run `portside sync`, then import-portus again to fill their authors)",
            )
        elif len(keys) <= SKIPS_NAMED:
            for key in keys:
                _line(out, f"skipped: {kind} {key}: {reason}")
        else:
            _line(
                out,
                f"skipped: {len(keys)} {kind}s ({', '.join(keys[:SKIPS_NAMED])}, ...): {reason}",
            )
