"""``portside user``, ``team``, ``namespace`` and ``token``: the accounts from the command line.

Operators' scripts depend on these forms and on the exit codes: 0 done; 2 a wrong option or
value (a name, password, role or visibility that cannot be used); 1 no such user, team,
namespace or token, a conflict (it exists already, the last owner), or the database failed.
Messages go to stderr on one line; stdout carries the result only (a table, JSON, or a new
token alone, so that ``TOKEN=$(portside token add ci deploy)`` works).

Heavy imports (SQLAlchemy, Rich) happen inside the commands: ``portside --help`` stays quick.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from portside.accounts.vocabulary import Role, Visibility

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

USAGE = 2  # a wrong option or value (click's own usage errors are 2 too)
FAILED = 1  # not found, a conflict, the database


def _typer(help: str) -> typer.Typer:
    # As portside.cli's own sub-apps: plain help, no Rich panels.
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


user_app = _typer("Users: people and bots (service accounts that log in with tokens only).")
team_app = _typer("Teams and their members (viewer, contributor, owner).")
member_app = _typer("A team's members and their roles.")
namespace_app = _typer("Namespaces: the team that owns each and who may see and pull it.")
token_app = _typer("Personal access tokens (a password for `docker login`, a Bearer token).")
team_app.add_typer(member_app, name="member")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from stdin (one line; asked without echo on a terminal).",
    ),
]


# -- plumbing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """What a command's database work gets: the session, "now", and the registry's id
    (0 unless the command asked for the registry)."""

    session: AsyncSession
    now: datetime
    registry_id: int


def _fail(message: str, code: int = USAGE) -> NoReturn:
    from portside import cli

    cli._fail(message, code)


def _note(message: str) -> None:
    from portside import cli

    cli._note(message)


def _run(
    ctx: typer.Context,
    work: Callable[[Job], Awaitable[T]],
    *,
    write: bool = False,
    registry: bool = False,
) -> T:
    """Run ``work`` in one database session (a write transaction when ``write``), with the
    schema checked first; the accounts' errors become exit codes."""
    from datetime import UTC

    from portside import cli
    from portside.accounts.errors import InvalidAccount
    from portside.db import migrate
    from portside.db.engine import Database
    from portside.errors import PortsideError
    from portside.index.store import ensure_registry

    settings = cli._with_registry(ctx) if registry else cli._settings(ctx)
    registry_url = settings.registry.url or ""  # set when ``registry`` (_with_registry)

    async def main() -> T:
        now = datetime.now(UTC)
        async with Database(settings.database_url) as db:
            await migrate.wait_until_ready(db, 0)  # says at once that `db upgrade` is needed
            if not write:
                async with db.read() as session:
                    return await work(Job(session, now, 0))
            async with db.write() as session:
                registry_id = await ensure_registry(session, registry_url, now) if registry else 0
                return await work(Job(session, now, registry_id))

    try:
        return asyncio.run(main())
    except InvalidAccount as exc:
        _fail(str(exc), USAGE)
    except PortsideError as exc:
        _fail(str(exc), FAILED)


def _read_password() -> str:
    """One line from stdin (without its line ending); on a terminal, asked without echo."""
    from portside.accounts.passwords import MAX_PASSWORD

    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("password: ")
    try:
        line = sys.stdin.readline(MAX_PASSWORD + 2)  # bounded: a longer one is refused anyway
    except UnicodeDecodeError:
        _fail("--password-stdin: the password is not text in the terminal's encoding")
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        _fail("--password-stdin: no password on stdin (give it as one line)")
    return password


def shown(value: str | None) -> str:
    """A stored value as a terminal may show it (control characters escaped)."""
    if value is None:
        return ""
    return value if value.isprintable() else repr(value)[1:-1]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _table(columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*columns)
    for row in rows:
        table.add_row(*(Text(shown(cell)) for cell in row))
    Console(soft_wrap=True).print(table)


def _json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


# -- users ------------------------------------------------------------------------------------
UserName = Annotated[str, typer.Argument(help="The user's name (also its personal namespace).")]


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: UserName,
    admin: Annotated[bool, typer.Option("--admin", help="May do everything.")] = False,
    bot: Annotated[
        bool, typer.Option("--bot", help="A service account: no password, tokens only.")
    ] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user (and its private personal namespace). Without --password-stdin the user has
    no password login until `portside user password NAME --password-stdin`; it may still use
    personal tokens. Bots never have a password."""
    from portside.accounts import store

    if bot and password_stdin:
        _fail("a bot has no password: leave out --password-stdin and give it a token")
    password = _read_password() if password_stdin else None

    async def work(job: Job) -> bool:
        await store.add_user(
            job.session,
            name,
            job.now,
            registry_id=job.registry_id,
            password=password,
            admin=admin,
            bot=bot,
        )
        return await store.team_by_name(job.session, store.personal_team_name(name)) is not None

    personal = _run(ctx, work, write=True, registry=True)
    kind = "bot" if bot else "admin" if admin else "user"
    print(f"added {kind} {name}")
    if not personal:
        _note(
            f"namespace {name} existed already and keeps its owner: it is not {name}'s "
            f"personal namespace (`portside namespace set {name} --team ...` hands it over)"
        )
    if bot:
        _note(f"a bot logs in with personal tokens only: `portside token add {name} NAME`")
    elif password is None:
        _note(
            f"{name} has no password: no password login (personal tokens work) until "
            f"`portside user password {name} --password-stdin`"
        )


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the users (never their password hashes)."""
    from portside.accounts import store

    async def work(job: Job) -> list[dict[str, Any]]:
        return [
            {
                "name": user.name,
                "email": user.email,
                "admin": user.admin,
                "bot": user.bot,
                "enabled": user.enabled,
                "has_password": user.password_hash is not None,
                "created_at": user.created_at,
                "last_login_at": user.last_login_at,
            }
            for user in await store.users(job.session)
        ]

    found = _run(ctx, work)
    if as_json:
        _json(
            [
                {
                    **row,
                    "created_at": _iso(row["created_at"]),
                    "last_login_at": _iso(row["last_login_at"]),
                }
                for row in found
            ]
        )
        return
    _table(
        ["name", "admin", "bot", "enabled", "password", "email", "created", "last login"],
        [
            [
                row["name"],
                _yes(row["admin"]),
                _yes(row["bot"]),
                _yes(row["enabled"]),
                _yes(row["has_password"]),
                row["email"] or "",
                _when(row["created_at"]),
                _when(row["last_login_at"]),
            ]
            for row in found
        ],
    )


def _set_enabled(ctx: typer.Context, name: str, enabled: bool) -> None:
    from portside.accounts import store

    async def work(job: Job) -> None:
        await store.set_enabled(job.session, name, enabled, job.now)

    _run(ctx, work, write=True)
    print(f"{'enabled' if enabled else 'disabled'} {name}")


@user_app.command("disable")
def user_disable(ctx: typer.Context, name: UserName) -> None:
    """Disable a user: no login, no token works, nothing is deleted."""
    _set_enabled(ctx, name, False)


@user_app.command("enable")
def user_enable(ctx: typer.Context, name: UserName) -> None:
    """Enable a disabled user again."""
    _set_enabled(ctx, name, True)


@user_app.command("password")
def user_password(
    ctx: typer.Context, name: UserName, password_stdin: PasswordStdin = False
) -> None:
    """Set a user's password (read from stdin with --password-stdin). The user's login
    sessions end (its personal tokens keep working)."""
    from portside.accounts import store

    if not password_stdin:
        _fail("pass --password-stdin and give the password on stdin (one line)")
    password = _read_password()

    async def work(job: Job) -> None:
        await store.set_password(job.session, name, password, job.now)

    _run(ctx, work, write=True)
    print(f"password of {name} set")


# -- teams ------------------------------------------------------------------------------------
TeamName = Annotated[str, typer.Argument(help="The team's name.")]
MemberName = Annotated[str, typer.Argument(help="The user's name.")]


@team_app.command("add")
def team_add(
    ctx: typer.Context,
    team: TeamName,
    owner: Annotated[str, typer.Option("--owner", help="Its first owner (a user).")],
    description: Annotated[str, typer.Option("--description", help="What it is for.")] = "",
) -> None:
    """Add a team with its first owner."""
    from portside.accounts import store

    async def work(job: Job) -> None:
        await store.add_team(job.session, team, owner, job.now, description=description)

    _run(ctx, work, write=True)
    print(f"added team {team} (owner {owner})")


@team_app.command("list")
def team_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the teams with their members (personal teams are not listed)."""
    from portside.accounts import store

    async def work(job: Job) -> list[dict[str, Any]]:
        return [
            {
                "name": team.name,
                "description": team.description,
                "members": [
                    {"user": m.user, "role": m.role.value}
                    for m in await store.members(job.session, team.name)
                ],
                "created_at": team.created_at,
            }
            for team in await store.teams(job.session)
        ]

    found = _run(ctx, work)
    if as_json:
        _json([{**row, "created_at": _iso(row["created_at"])} for row in found])
        return
    _table(
        ["team", "owners", "members", "description"],
        [
            [
                row["name"],
                ", ".join(m["user"] for m in row["members"] if m["role"] == Role.OWNER),
                str(len(row["members"])),
                row["description"],
            ]
            for row in found
        ],
    )


@member_app.command("add")
def member_add(
    ctx: typer.Context,
    team: TeamName,
    user: MemberName,
    role: Annotated[Role, typer.Option("--role", help="viewer, contributor or owner.")],
) -> None:
    """Add a user to a team, or change its role there."""
    from portside.accounts import store

    async def work(job: Job) -> None:
        await store.set_member(job.session, team, user, role, job.now)

    _run(ctx, work, write=True)
    print(f"{user} is {role.value} in {team}")


@member_app.command("remove")
def member_remove(ctx: typer.Context, team: TeamName, user: MemberName) -> None:
    """Take a user out of a team (a team keeps at least one owner)."""
    from portside.accounts import store

    async def work(job: Job) -> None:
        await store.remove_member(job.session, team, user)

    _run(ctx, work, write=True)
    print(f"removed {user} from {team}")


@member_app.command("list")
def member_list(ctx: typer.Context, team: TeamName, as_json: JsonOption = False) -> None:
    """List a team's members and their roles."""
    from portside.accounts import store

    async def work(job: Job) -> list[dict[str, str]]:
        return [
            {"user": m.user, "role": m.role.value} for m in await store.members(job.session, team)
        ]

    found = _run(ctx, work)
    if as_json:
        _json(found)
        return
    _table(["user", "role"], [[row["user"], row["role"]] for row in found])


# -- namespaces -------------------------------------------------------------------------------
NamespaceName = Annotated[
    str, typer.Argument(help='The namespace (the part before the first "/"; "" the global one).')
]
VisibilityOption = Annotated[
    Visibility,
    typer.Option(
        "--visibility",
        help="public (anyone, anonymous too), protected (logged-in users), private (the team).",
    ),
]


@namespace_app.command("add")
def namespace_add(
    ctx: typer.Context,
    name: NamespaceName,
    team: Annotated[str, typer.Option("--team", help="The team that owns it.")],
    visibility: VisibilityOption,
    description: Annotated[str, typer.Option("--description", help="What is in it.")] = "",
) -> None:
    """Add a namespace owned by a team (one the registry created on a push, owned by the
    admins until now, is handed over to the team)."""
    from portside.accounts import store

    async def work(job: Job) -> None:
        await store.add_namespace(
            job.session,
            name,
            team,
            visibility,
            job.now,
            registry_id=job.registry_id,
            description=description,
        )

    _run(ctx, work, write=True, registry=True)
    print(f"added namespace {_namespace(name)} ({visibility.value}, team {team})")


@namespace_app.command("set")
def namespace_set(
    ctx: typer.Context,
    name: NamespaceName,
    visibility: Annotated[
        Visibility | None,
        typer.Option("--visibility", help="public, protected or private.", show_default=False),
    ] = None,
    team: Annotated[
        str | None, typer.Option("--team", help="Hand it to this team.", show_default=False)
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What is in it.", show_default=False)
    ] = None,
) -> None:
    """Change a namespace's visibility, team or description."""
    from portside.accounts import store

    if visibility is None and team is None and description is None:
        _fail("nothing to change: pass --visibility, --team or --description")

    async def work(job: Job) -> None:
        await store.set_namespace(
            job.session, name, visibility=visibility, team_name=team, description=description
        )

    _run(ctx, work, write=True)
    changes = [f"visibility {visibility.value}"] if visibility is not None else []
    changes += [f"team {team}"] if team is not None else []
    changes += ["description"] if description is not None else []
    print(f"namespace {_namespace(name)}: {', '.join(changes)} set")


def _namespace(name: str) -> str:
    return name or "(global)"


def owner_label(team: str | None) -> str:
    """Who owns a namespace, as the list shows it."""
    from portside.accounts.store import personal_team_name

    if team is None:
        return "(admins)"
    prefix = personal_team_name("")
    return f"{team.removeprefix(prefix)} (personal)" if team.startswith(prefix) else team


@namespace_app.command("list")
def namespace_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the namespaces with their team and visibility ((admins): created by a push,
    owned by the admins)."""
    from portside.accounts import store

    async def work(job: Job) -> list[dict[str, Any]]:
        return [
            {
                "name": namespace.name,
                "team": team,
                "visibility": namespace.visibility,
                "description": namespace.description,
            }
            for namespace, team in await store.namespaces(job.session)
        ]

    found = _run(ctx, work)
    if as_json:
        _json(found)
        return
    _table(
        ["namespace", "team", "visibility", "description"],
        [
            [
                _namespace(row["name"]),
                owner_label(row["team"]),
                row["visibility"],
                row["description"],
            ]
            for row in found
        ],
    )


# -- tokens -----------------------------------------------------------------------------------
TokenOwner = Annotated[str, typer.Argument(help="The user the token belongs to.")]
TokenName = Annotated[str, typer.Argument(help="The token's name (what it is for).")]


@token_app.command("add")
def token_add(
    ctx: typer.Context,
    user: TokenOwner,
    name: TokenName,
    expires: Annotated[
        int | None,
        typer.Option(
            "--expires",
            metavar="DAYS",
            help="Expire after DAYS days (default: never).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Add a personal token and print it, alone on stdout, this once (only its hash is kept)."""
    from portside.accounts import store

    async def work(job: Job) -> tuple[str, datetime | None]:
        token, plain = await store.add_token(job.session, user, name, job.now, days=expires)
        return plain, token.expires_at

    plain, expires_at = _run(ctx, work, write=True)
    sys.stdout.write(plain + "\n")
    sys.stdout.flush()
    until = f"expires {_when(expires_at)} UTC" if expires_at else "never expires"
    _note(f"token {name!r} of {user} ({until}): shown this once, keep it now")


@token_app.command("list")
def token_list(ctx: typer.Context, user: TokenOwner, as_json: JsonOption = False) -> None:
    """List a user's tokens (never the tokens themselves)."""
    from portside.accounts import store

    async def work(job: Job) -> list[dict[str, Any]]:
        return [
            {
                "name": token.name,
                "state": store.token_state(token, job.now),
                "created_at": token.created_at,
                "expires_at": token.expires_at,
                "last_used_at": token.last_used_at,
                "revoked_at": token.revoked_at,
            }
            for token in await store.tokens_of(job.session, user)
        ]

    found = _run(ctx, work)
    if as_json:
        dates = ("created_at", "expires_at", "last_used_at", "revoked_at")
        _json([{**row, **{key: _iso(row[key]) for key in dates}} for row in found])
        return
    _table(
        ["name", "state", "created", "expires", "last used"],
        [
            [
                row["name"],
                row["state"],
                _when(row["created_at"]),
                _when(row["expires_at"]),
                _when(row["last_used_at"]),
            ]
            for row in found
        ],
    )


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, user: TokenOwner, name: TokenName) -> None:
    """Revoke a user's token: it stops working at once."""
    from portside.accounts import store

    async def work(job: Job) -> None:
        await store.revoke_token(job.session, user, name, job.now)

    _run(ctx, work, write=True)
    print(f"revoked token {shown(name)!r} of {user}")
