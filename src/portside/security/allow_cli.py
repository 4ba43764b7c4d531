"""``portside allow``: the CVE allowlist on the command line (:mod:`.exceptions`).

The command line is the operator's (it holds the database): it may add global exceptions and
any namespace's; ``created_by`` is ``cli:`` and the login name of who ran it. Exit codes as
the accounts' commands: 0 done, 2 a value that cannot be used, 1 not found or the database
failed. Messages go to stderr; stdout carries the result (the new exception's id alone, a
table, or JSON).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from portside.db.models import VulnerabilityException

T = TypeVar("T")
USAGE, FAILED = 2, 1

allow_app = typer.Typer(
    help="The CVE allowlist: vulnerabilities allowed per namespace or everywhere, with a "
    "reason and an expiry (verdicts, the security hub and `scan --fail-on` leave them out).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _run(ctx: typer.Context, work: Callable[[AsyncSession, datetime], Awaitable[T]]) -> T:
    from portside import cli
    from portside.db import migrate
    from portside.db.engine import Database
    from portside.errors import PortsideError
    from portside.security.exceptions import InvalidException

    settings = cli._settings(ctx)

    async def main() -> T:
        now = datetime.now(UTC)
        async with Database(settings.database_url) as db:
            await migrate.wait_until_ready(db, 0)
            async with db.write() as session:
                return await work(session, now)

    try:
        return asyncio.run(main())
    except InvalidException as exc:
        cli._fail(str(exc), USAGE)
    except PortsideError as exc:
        cli._fail(str(exc), FAILED)


def _operator() -> Any:
    import getpass

    from portside.accounts.policy import Principal

    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        who = "unknown"
    return Principal(name=f"cli:{who}", admin=True)


def as_dict(row: VulnerabilityException, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "vulnerability": row.vulnerability,
        "namespace": row.namespace,
        "reason": row.reason,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "expired": row.expires_at <= now,
    }


@allow_app.command("add")
def allow_add(
    ctx: typer.Context,
    vulnerability: Annotated[
        str, typer.Argument(help="An advisory id or any alias (CVE-2021-44228), any case.")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it is allowed (required).", show_default=False)
    ],
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            help='Allow it in this namespace only ("" the global namespace); without it, '
            "everywhere.",
            show_default=False,
        ),
    ] = None,
    expires: Annotated[
        int,
        typer.Option("--expires", metavar="DAYS", help="Days until it stops applying (1..365)."),
    ] = 90,
) -> None:
    """Allow a vulnerability; prints the new exception's id."""
    from portside.security import exceptions

    async def work(session: AsyncSession, now: datetime) -> int:
        row = await exceptions.add_as(
            session,
            _operator(),
            vulnerability,
            namespace=namespace,
            reason=reason,
            days=expires,
            now=now,
        )
        return row.id

    print(_run(ctx, work))


@allow_app.command("list")
def allow_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    active: Annotated[
        bool, typer.Option("--active", help="Only those in force (not expired).")
    ] = False,
) -> None:
    """List the exceptions (expired ones too, marked, unless --active)."""
    from portside.accounts.cli import _json, _table
    from portside.security import exceptions

    async def work(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
        rows = await exceptions.listed(session, now, expired=not active)
        return [as_dict(row, now) for row in rows]

    found = _run(ctx, work)
    if as_json:
        _json(found)
        return
    _table(
        ["id", "vulnerability", "namespace", "until", "by", "reason"],
        [
            [
                str(row["id"]),
                row["vulnerability"],
                "(global)" if row["namespace"] is None else row["namespace"] or '""',
                row["expires_at"][:16].replace("T", " ") + (" (expired)" if row["expired"] else ""),
                row["created_by"],
                row["reason"],
            ]
            for row in found
        ],
    )


@allow_app.command("remove")
def allow_remove(
    ctx: typer.Context, number: Annotated[int, typer.Argument(help="The exception's id.")]
) -> None:
    """Remove an exception: its findings count again at once."""
    from portside.security import exceptions

    async def work(session: AsyncSession, now: datetime) -> None:
        await exceptions.remove_as(session, _operator(), number)

    _run(ctx, work)
    print(f"removed exception {number}")
