"""`portside sync`: one pass now, with a progress bar on a terminal and a summary."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from portside.background.runtime import worker_id
from portside.db import migrate
from portside.db.engine import Database
from portside.registry.client import RegistryClient
from portside.settings import Settings, SyncStrategy
from portside.sync import one_pass as sync_run
from portside.sync.reconcile import Observed, RepositoryPlan
from portside.sync.task import options_for, run_sync
from portside.tokenserver.own import own_tokens


def _plan_lines(plans: list[RepositoryPlan]) -> list[str]:
    lines = []
    for plan in sorted(plans, key=lambda p: p.repository):
        for upsert in plan.upserts:
            if upsert.previous_digest is None:
                lines.append(f"+ {plan.repository}:{upsert.tag} {upsert.digest}")
            else:
                lines.append(
                    f"~ {plan.repository}:{upsert.tag} {upsert.previous_digest} -> {upsert.digest}"
                )
        lines.extend(f"- {plan.repository}:{r.tag} {r.digest}" for r in plan.removals)
        if plan.remove_repository:
            lines.append(f"- {plan.repository}")
    return lines


async def run_sync_command(
    settings: Settings, strategy: SyncStrategy, *, dry_run: bool, allow_mass_delete: bool
) -> int:
    out, err = Console(), Console(stderr=True)
    options = options_for(
        strategy,
        settings.background.sync,
        settings.registry,
        dry_run=dry_run,
        allow_mass_delete=allow_mass_delete,
    )
    bar = Progress(
        TextColumn("[bold]sync[/bold]"),
        BarColumn(bar_width=None),
        TextColumn(
            "{task.fields[repos]} repositories, {task.fields[tags]} tags, "
            "{task.fields[changes]} changes, {task.fields[described]} images described"
        ),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    task = bar.add_task("sync", total=None, repos=0, tags=0, changes=0, described=0)
    counts = {"repos": 0, "tags": 0, "changes": 0}

    async def repository_done(observed: Observed, plan: RepositoryPlan) -> None:
        counts["repos"] += 1
        counts["tags"] += len(observed.tags or ())
        counts["changes"] += len(plan.upserts) + len(plan.removals)
        bar.update(task, repos=counts["repos"], tags=counts["tags"], changes=counts["changes"])

    async def images_described(count: int) -> None:
        bar.update(task, described=count)

    async with Database(settings.database_url) as db:
        await migrate.wait_until_ready(db, 0)  # a command says at once what is wrong
        async with RegistryClient(
            settings.registry, token_source=own_tokens(settings, db)
        ) as client:
            with bar:
                report = await run_sync(
                    db,
                    client,
                    options,
                    holder=worker_id(),
                    progress=sync_run.Progress(
                        repository_done=repository_done, images_described=images_described
                    ),
                )
    if report is None:
        err.print("another process is syncing now; try again later")
        return 1
    if dry_run:
        for line in _plan_lines(report.plans):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    summary = report.summary
    table = Table(title="dry run: nothing applied" if dry_run else "sync", show_header=False)
    for label, value in (
        ("repositories walked", summary.repositories),
        ("tags checked", summary.tags),
        ("tags added", summary.added),
        ("tags moved", summary.moved),
        ("tags removed", summary.removed_tags),
        ("repositories removed", summary.removed_repositories),
        ("left to events", summary.left_to_events),
        ("repositories unknown (errors)", summary.unknown_repositories),
        ("invalid names skipped", summary.invalid_names),
        ("catalog read to its end", "yes" if summary.catalog_complete else "no"),
        ("deletions", summary.deletions),
        ("images described (config read)", report.describe.images if report.describe else 0),
        ("requests", report.requests),
        ("index complete after", f"{report.index_duration:.2f}s"),
        ("duration", f"{report.duration:.2f}s"),
    ):
        table.add_row(label, str(value))
    err.print(table)
    for error in summary.errors:
        err.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
    sys.stdout.flush()
    return 0 if not summary.errors else 1
