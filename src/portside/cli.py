"""The ``portside`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from portside import __version__, cyclegc
from portside.accounts.cli import namespace_app, team_app, token_app, user_app
from portside.errors import ConfigError, InvalidName, PortsideError
from portside.logconfig import configure
from portside.security.allow_cli import allow_app
from portside.settings import Settings, SyncStrategy, load_settings

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger("portside")


# Plain help (rich_markup_mode=None): Typer's Rich panels print a `<bool>` metavar beside
# every flag, as if it took a value.
def _typer(help: str, *, pretty_exceptions: bool = True) -> typer.Typer:
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=pretty_exceptions,
    )


app = _typer(
    "Portside: an index of your Docker/OCI registry, kept in sync in real time.",
    pretty_exceptions=False,
)
db_app = _typer("The database schema.")
events_app = _typer("Registry events Portside received.")
vulndb_app = _typer("Vulnerability data (OSV).")
app.add_typer(db_app, name="db")
app.add_typer(vulndb_app, name="vulndb")
app.add_typer(events_app, name="events")
app.add_typer(user_app, name="user")
app.add_typer(team_app, name="team")
app.add_typer(namespace_app, name="namespace")
app.add_typer(token_app, name="token")
app.add_typer(allow_app, name="allow")


@functools.cache
def err() -> Console:
    """The console for messages (stderr), made on first use: Rich is imported only by a
    command that prints one (`portside scan --format json` does not)."""
    from rich.console import Console

    return Console(stderr=True)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML settings file (or PORTSIDE_CONFIG).", show_default=False
    ),
]


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _fail(message: str, code: int = 2) -> NoReturn:
    err().print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def _with_registry(ctx: typer.Context) -> Settings:
    """The settings of a command that talks to the registry: registry.url, or else the
    embedded default that `portside run` recorded in data_dir (said on stderr)."""
    from portside import embedded

    settings = _settings(ctx)
    if settings.registry.url:
        return settings
    try:
        found = embedded.find(settings.data_dir)
    except ConfigError as exc:
        _fail(str(exc))
    if found is None:
        _fail(
            "registry.url: not set (PORTSIDE_REGISTRY__URL), and no embedded default was "
            f"recorded in {settings.data_dir}/ (start `portside run` in this folder first)"
        )
    err().print(
        f"using the embedded registry {found.registry_url} (recorded in {found.source} "
        "by `portside run`)",
        highlight=False,
        markup=False,
    )
    return settings.model_copy(
        update={"registry": settings.registry.model_copy(update={"url": found.registry_url})}
    )


def _print_version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    config: ConfigOption = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print Portside's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    try:
        ctx.obj = load_settings(config)
    except ConfigError as exc:
        err().print(f"[red]error:[/red] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(2) from exc
    configure(ctx.obj.log_level)
    for note in ctx.obj.deprecations:
        log.warning(note)


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except PortsideError as exc:
        _fail(str(exc), 1)


# -- serving ---------------------------------------------------------------------------------
def _require_tokens(settings: Settings) -> None:
    if settings.notifications.require_token and not settings.notifications.tokens:
        raise ConfigError(
            "notifications.tokens: no token is configured, so every notification would be "
            "refused; set one (PORTSIDE_NOTIFICATIONS__TOKENS='[\"...\"]') or set "
            "notifications.require_token: false"
        )


async def _schema_or_stop(settings: Settings) -> bool:
    """Wait for the database schema (``background.schema_wait``), or for SIGTERM/SIGINT:
    True when the schema is ready; False, with a line saying so, when a signal came first.
    Raises SchemaNotReady when the wait runs out."""
    from portside.db import migrate
    from portside.db.engine import Database

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    try:
        async with Database(settings.database_url) as db:
            ready = asyncio.create_task(
                migrate.wait_until_ready(db, settings.background.schema_wait)
            )
            stop = asyncio.create_task(stopping.wait())
            await asyncio.wait({ready, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not ready.done():
                ready.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ready
                err().print(
                    "portside: stopped by a signal while waiting for the database schema "
                    "(`portside db upgrade` migrates it)",
                    highlight=False,
                    markup=False,
                )
                return False
            ready.result()
            return True
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


class _Server:
    """uvicorn, with SIGTERM/SIGINT handled here so the process exits 0 after a clean stop
    (uvicorn re-raises the signal after shutdown, which would skip our own clean-up)."""

    def __init__(self, settings: Settings, *, background: bool):
        import uvicorn

        from portside.app import create_app
        from portside.web.clients import IGNORED_ENVIRONMENT, proxy_options

        if os.environ.get(IGNORED_ENVIRONMENT):
            log.warning(
                "%s is ignored: name the reverse proxies to trust in server.trusted_proxies",
                IGNORED_ENVIRONMENT,
            )
        config = uvicorn.Config(
            create_app(settings, background=background),
            host=settings.server.host,
            port=settings.server.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            server_header=False,
            ssl_certfile=str(settings.server.tls.cert) if settings.server.tls else None,
            ssl_keyfile=str(settings.server.tls.key) if settings.server.tls else None,
            **proxy_options(settings.server),
        )
        self.server = uvicorn.Server(config)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop)
        await self.server._serve()
        if not self.server.started:
            raise PortsideError(
                f"the server could not start on {self.server.config.host}:{self.server.config.port}"
            )

    def _stop(self) -> None:
        self.server.should_exit = True


async def _serve(settings: Settings, *, background: bool) -> None:
    # The schema first, under our own signal handling: uvicorn's start-up (the app's lifespan,
    # where the services wait for it too) would not stop for a signal.
    if await _schema_or_stop(settings):
        await _Server(settings, background=background).serve()


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the HTTP side: the registry's webhook and the API."""
    settings = _settings(ctx)
    try:
        _require_tokens(settings)
    except ConfigError as exc:
        _fail(str(exc))
    _run(_serve(settings, background=False))


def _embedded(settings: Settings) -> tuple[Settings, Any]:
    """Settings for the embedded default: a local registry notifying this Portside."""
    import secrets

    from portside import embedded
    from portside.private import write_private
    from portside.registry.local import LocalRegistry, LocalRegistryConfig

    data = settings.data_dir
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    token_file = data / embedded.TOKEN_FILE
    token = ""
    if token_file.exists():
        token_file.chmod(0o600)  # ours: an older version left it to the umask before chmod
        token = token_file.read_text().strip()
    if not token:  # new, or left empty: a blank token would match a blank header
        token = secrets.token_urlsafe(32)
        write_private(token_file, token)
    host = settings.server.host if settings.server.host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
    registry = LocalRegistry(
        LocalRegistryConfig(
            root=(data / "registry").resolve(),
            port=settings.registry.local_port,
            notify_url=f"http://{host}:{settings.server.port}",
            notify_token=token,
        )
    )
    notifications = settings.notifications.model_copy(
        update={"tokens": [*settings.notifications.tokens, typer_secret(token)]}
    )
    return (
        settings.model_copy(
            update={
                "registry": settings.registry.model_copy(update={"url": registry.url}),
                "notifications": notifications,
            }
        ),
        registry,
    )


def typer_secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


@app.command()
def run(ctx: typer.Context) -> None:
    """Everything in one process: migrate, serve, run the background tasks.

    With no registry.url, a local registry (Debian's docker-registry) is started on
    registry.local_port with its notifications pointed at this Portside.
    """
    from portside import embedded
    from portside.db import migrate
    from portside.db.engine import Database

    settings = _settings(ctx)
    registry = None
    try:
        server = (settings.server.host, settings.server.port)
        if not settings.registry.url:
            settings, registry = _embedded(settings)
            embedded.check_registry_port(registry.config.host, registry.config.port)
            embedded.check_server_port(*server)
        else:
            embedded.check_server_port(*server)
        _require_tokens(settings)
    except ConfigError as exc:
        _fail(str(exc))

    async def main() -> None:
        async with Database(settings.database_url) as db:
            await migrate.upgrade(db)
        await _serve(settings, background=True)

    try:
        if registry is not None:
            registry.start()
            embedded.record(settings.data_dir, registry.url, registry.config.notify_url or "")
            err().print(
                f"local registry: {registry.url} (push with: skopeo copy --dest-tls-verify=false "
                f"... docker://{registry.url.removeprefix('http://')}/NAME:TAG)",
                highlight=False,
                markup=False,
            )
        err().print(
            f"portside: http://{settings.server.host}:{settings.server.port}/api/v1/repositories",
            highlight=False,
            markup=False,
        )
        _run(main())
    except PortsideError as exc:
        _fail(str(exc), 1)
    finally:
        if registry is not None:
            registry.stop()


@app.command()
def background(
    ctx: typer.Context,
    one_shot: Annotated[
        bool,
        typer.Option("--one-shot", help="Run each task until it has nothing to do, then exit."),
    ] = False,
) -> None:
    """Run the background tasks (registry events, ...) without the HTTP side."""
    from portside.services import open_services

    settings = _with_registry(ctx)

    async def main() -> None:
        if not one_shot and not await _schema_or_stop(settings):
            return
        async with open_services(
            settings, ingest=False, background=True, one_shot=one_shot
        ) as services:
            runtime = services.runtime
            assert runtime is not None
            if one_shot:
                await runtime.run(one_shot=True)
                return
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, runtime.stop.set)
            await runtime.stop.wait()

    _run(main())


@app.command()
def sync(
    ctx: typer.Context,
    strategy: Annotated[
        SyncStrategy | None,
        typer.Option(
            help="Default: background.sync.strategy (on-start/initial act as update-delete)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the changes; apply none.")
    ] = False,
    allow_mass_delete: Annotated[
        bool, typer.Option("--allow-mass-delete", help="Apply deletions over the safety limit.")
    ] = False,
) -> None:
    """Walk the registry's catalog now and make the index match it."""
    from portside.sync.cli import run_sync_command

    settings = _with_registry(ctx)
    code = _run(
        run_sync_command(
            settings,
            strategy or settings.background.sync.strategy,
            dry_run=dry_run,
            allow_mass_delete=allow_mass_delete,
        )
    )
    raise typer.Exit(code)


class ScanFormat(StrEnum):
    table = "table"
    json = "json"
    cyclonedx = "cyclonedx"


# `portside scan`'s exit codes besides the gate's 0 and 1 (scanning.gate.Verdict.exit_code): a CI
# job tells a failed gate from a scan that could not be done.
SCAN_USAGE = 2  # a wrong option, reference or setting (click's own usage errors are 2 too)
SCAN_ERROR = 3  # the registry, the server or the database did not answer as needed


def _severity(value: str | None) -> str | None:
    from portside.security.scanning.gate import parse_level

    if value is None:
        return None
    try:
        return parse_level(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _scan_failed(exc: BaseException) -> NoReturn:
    """A scan that could not be done exits 3 (not 1, which is a failed gate); a wrong setting
    or image reference exits 2."""
    if isinstance(exc, ConfigError | InvalidName):
        _fail(str(exc), SCAN_USAGE)
    if isinstance(exc, PortsideError):
        _fail(str(exc), SCAN_ERROR)
    import traceback

    traceback.print_exception(exc)
    _fail(f"unexpected {type(exc).__name__}: {exc}", SCAN_ERROR)


@app.command(
    epilog="Exit codes: 0 scanned (and the gate passed), 1 the gate failed (--fail-on), "
    "2 a wrong option, reference or setting, 3 the scan could not be done (registry, server "
    "or database; with --server, anything the server refuses)."
)
def scan(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="repository:tag or repository@sha256:... on the registry")
    ],
    output: Annotated[
        ScanFormat, typer.Option("--format", help="Output format.")
    ] = ScanFormat.table,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="PORTSIDE_API_URL",
            help="Ask a running Portside (its base URL) instead of scanning in this process.",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="PORTSIDE_API_TOKEN",
            help="The server's admin token (api.admin_tokens), with --server.",
            show_default=False,
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Analyze the image now even if the background scanner has a stored result "
            "for its digest.",
        ),
    ] = False,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="SEVERITY",
            callback=_severity,
            help="Exit 1 when a finding at or above this severity remains: Defcon1, Critical, "
            "High, Medium, Low, Unknown, Negligible (Portus's order, worst first; any case).",
            show_default=False,
        ),
    ] = None,
    ignore_unfixed: Annotated[
        bool,
        typer.Option(
            "--ignore-unfixed",
            help="Leave out findings without a fixed version (from the output and the gate).",
        ),
    ] = False,
) -> None:
    """Scan one image now: its packages and their known vulnerabilities."""
    if server:
        from portside.apiclient import request_scan
        from portside.security.scanning.render import finish

        try:
            report = request_scan(server, token, ref, reuse=not fresh)
        except PortsideError as exc:
            _scan_failed(exc)
        raise typer.Exit(
            finish(report, output.value, fail_on=fail_on, ignore_unfixed=ignore_unfixed)
        )
    with cyclegc.importing():  # a one-shot command: its imports are most of its time
        from portside.security.scanning.cli import scan_command

    settings = _with_registry(ctx)
    command = scan_command(
        settings,
        ref,
        output.value,
        reuse=not fresh,
        fail_on=fail_on,
        ignore_unfixed=ignore_unfixed,
    )
    try:
        code = asyncio.run(command)
    except Exception as exc:  # a crash must not read as a failed gate (1)
        _scan_failed(exc)
    raise typer.Exit(code)


@app.command("import-portus")
def import_portus(
    ctx: typer.Context,
    dsn: Annotated[
        str,
        typer.Argument(
            help="Portus's database, e.g. mysql://user:password@host:3306/portus "
            "(the password is never printed).",
            show_default=False,
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would change; write nothing.")
    ] = False,
) -> None:
    """Bring a Portus installation's users, teams, namespaces, application tokens and
    webhooks over (again: a second run changes nothing). Exits 1 when some rows could not
    be brought (the others were), 2 on a bad DSN."""
    from rich.console import Console

    from portside.portus.cli import import_portus as run_import
    from portside.portus.cli import report
    from portside.portus.read import BadDsn

    # A real run makes personal namespaces, which belong to the registry (as `user add`).
    settings = _settings(ctx) if dry_run else _with_registry(ctx)
    try:
        done, shown = asyncio.run(run_import(settings, dsn, dry_run=dry_run))
    except BadDsn as exc:
        _fail(str(exc), 2)
    except PortsideError as exc:
        _fail(str(exc), 1)
    report(Console(), done, shown, dry_run=dry_run)
    raise typer.Exit(0 if done.complete else 1)


@vulndb_app.command("import")
def vulndb_import(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="A folder of OSV JSON files, or an osv.dev all.zip.")
    ],
) -> None:
    """Import OSV advisories, then match every scanned image again."""
    from portside.security.scanning.cli import import_command

    if not path.exists():
        _fail(f"{path}: no such file or folder")
    raise typer.Exit(_run(import_command(_settings(ctx), path)))


@vulndb_app.command("update")
def vulndb_update(ctx: typer.Context) -> None:
    """Fetch every vulnerability data source now (vulndb.sources), import what changed, then
    match every scanned image again. Exits 1 when a source failed."""
    from portside.security.scanning.cli import update_command

    raise typer.Exit(_run(update_command(_settings(ctx))))


@vulndb_app.command("status")
def vulndb_status(ctx: typer.Context) -> None:
    """What vulnerability data is loaded, and how fresh it is."""
    from portside.security.scanning.cli import status_command

    raise typer.Exit(_run(status_command(_settings(ctx))))


def _printable(name: str) -> str:
    """A name from the index as a terminal may show it (a junk name escaped)."""
    return name if name.isprintable() else repr(name)


def _count(n: int, noun: str) -> str:
    """``1 event``, ``2 events``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _note(message: str) -> None:
    err().print(message, highlight=False, markup=False, soft_wrap=True)


@app.command()
def delete(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="repository:tag, or a repository with --repository")],
    with_siblings: Annotated[
        bool, typer.Option("--with-siblings", help="Also the other tags on the same digest.")
    ] = False,
    repository: Annotated[
        bool, typer.Option("--repository", help="Delete the whole repository.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete a repository without asking.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Delete a tag (or a repository) in the registry, then in the index."""
    from portside.db.engine import Database
    from portside.deletion import DeletionRefused, delete_repository, delete_tag
    from portside.registry.client import RegistryClient
    from portside.tokenserver.own import own_tokens

    settings = _with_registry(ctx)
    name, colon, tag = ref.rpartition(":") if not repository else (ref, "", "")
    if not repository and (not colon or "/" in tag):
        _fail("name a tag as repository:tag, or pass --repository")
    if dry_run:
        _dry_run_delete(settings, name, None if repository else tag, with_siblings=with_siblings)
        return
    if repository and not yes:
        _confirm_repository_delete(settings, name)

    async def main() -> Any:
        async with (
            Database(settings.database_url) as db,
            RegistryClient(settings.registry, token_source=own_tokens(settings, db)) as client,
        ):
            if repository:
                return await delete_repository(db, client, name, actor="cli")
            return await delete_tag(db, client, name, tag, with_siblings=with_siblings, actor="cli")

    try:
        deleted = asyncio.run(main())
    except DeletionRefused as exc:
        # The library names its switch as the API does (with_siblings); here it is a flag.
        _fail(str(exc).replace("pass with_siblings", "pass --with-siblings"), 1)
    except PortsideError as exc:
        _fail(str(exc), 1)
    repo = _printable(deleted.repository)
    print(
        f"deleted {', '.join(f'{repo}:{_printable(t)}' for t in deleted.tags) or 'no tags'}"
        + (f"; repository {repo} removed" if deleted.repository_removed else "")
    )
    if deleted.index_only:
        _note(f"removed from the index only: {deleted.index_only}; the registry was not asked")


def _indexed(settings: Settings, repository: str) -> list[tuple[str, str]]:
    """The repository's (tag, digest) pairs in the index; a clear exit when it is not there."""
    from portside.db.engine import Database
    from portside.deletion import index_only_reason, indexed_tags

    async def main() -> list[tuple[str, str]] | None:
        async with Database(settings.database_url) as db:
            return await indexed_tags(db, repository)

    tags: list[tuple[str, str]] | None = _run(main())
    if tags is None:
        invalid = index_only_reason(repository)
        _fail(
            f"{invalid}, and it is not in the index"
            if invalid
            else f"repository {_printable(repository)} is not in the index",
            1,
        )
    return tags


def _confirm_repository_delete(settings: Settings, repository: str) -> None:
    tags = _indexed(settings, repository)
    question = (
        f"Delete repository {_printable(repository)} and its {_count(len(tags), 'tag')} in the "
        "registry and the index?"
    )
    if not sys.stdin.isatty():
        _fail(f"{question} Pass --yes to confirm (or --dry-run to see what would go).")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


def _dry_run_delete(
    settings: Settings, repository: str, tag: str | None, *, with_siblings: bool
) -> None:
    """Print what `delete` would take (a repository, or a tag and the siblings the registry
    would untag with it), without deleting."""
    tags = _indexed(settings, repository)
    if tag is not None:
        digest = dict(tags).get(tag)
        if digest is None:
            _fail(f"tag {_printable(tag)} is not in {_printable(repository)} in the index", 1)
        sharing = [(t, d) for t, d in tags if d == digest]
        if len(sharing) > 1 and not with_siblings:
            others = ", ".join(_printable(t) for t, _ in sharing if t != tag)
            _note(f"refused without --with-siblings: the digest is shared with {others}")
        tags = sharing if with_siblings else [(tag, digest)]
    for name, digest in tags:
        print(f"would delete {_printable(repository)}:{_printable(name)} ({digest})")
    _note(f"dry run: {_count(len(tags), 'tag')} would go; nothing was deleted")


@app.command()
def gc(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go; delete nothing.")
    ] = False,
) -> None:
    """Delete old, unused tags by the background.gc rules (even when the task is off)."""
    from datetime import UTC, datetime

    from portside.db.engine import Database
    from portside.gc.policy import describe
    from portside.gc.task import collect, rules_of, verdicts
    from portside.registry.client import RegistryClient
    from portside.tokenserver.own import own_tokens

    settings = _settings(ctx)
    rules = rules_of(settings.background.gc)

    if dry_run:

        async def judge() -> Any:
            async with Database(settings.database_url) as db:
                return await verdicts(db, rules, datetime.now(UTC))

        _note(f"rules: {describe(rules)} (background.gc)")
        judged = _run(judge())
        for verdict in judged:
            name = f"{_printable(verdict.tag.repository)}:{_printable(verdict.tag.name)}"
            verb = "would delete" if verdict.goes else "keeps"
            print(f"{verb} {name}: {verdict.reason}")
        going = sum(v.goes for v in judged)
        _note(f"dry run: would delete {_count(going, 'tag')} of {len(judged)}")
        return
    settings = _with_registry(ctx)

    async def main() -> list[str]:
        async with (
            Database(settings.database_url) as db,
            RegistryClient(settings.registry, token_source=own_tokens(settings, db)) as client,
        ):
            return await collect(db, client, rules, datetime.now(UTC))

    names = _run(main())
    for name in names:
        print(name)
    err().print(f"deleted {_count(len(names), 'tag')}", highlight=False)


# -- database --------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the database to this version's schema."""
    from portside.db import migrate
    from portside.db.engine import Database

    async def main() -> None:
        async with Database(_settings(ctx).database_url) as db:
            await migrate.upgrade(db)
            print(f"database at revision {await migrate.current_revision(db)}")

    _run(main())


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the database's schema revision and this version's."""
    from portside.db import migrate
    from portside.db.engine import Database

    async def main() -> None:
        async with Database(_settings(ctx).database_url) as db:
            current = await migrate.current_revision(db)
        head = migrate.HEAD
        print(f"database: {current or 'empty'}; this version: {head}")
        if current != head:
            raise typer.Exit(1)

    _run(main())


# -- events ----------------------------------------------------------------------------------
@events_app.command("list")
def events_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="fresh, progress, done or failed")] = None,
    limit: int = 50,
) -> None:
    """List received events, newest first."""
    from rich.console import Console
    from rich.table import Table

    from portside.db.engine import Database
    from portside.events import queue
    from portside.reads import history
    from portside.reads.paging import Window

    if status is not None and status not in queue.STATUSES:
        _fail(f"--status {status!r}: use one of {', '.join(queue.STATUSES)}")
    if limit < 1:
        _fail("--limit must be at least 1")

    async def main() -> None:
        async with Database(_settings(ctx).database_url) as db, db.read() as session:
            found = await history.events(session, Window(per_page=limit), status=status)
        rows, total = found.page.rows, found.page.total
        about = "about " if found.page.estimated else ""
        table = Table("id", "action", "repository", "tag", "digest", "status", "attempts", "error")
        for row in rows:
            table.add_row(
                str(row.id),
                row.action,
                row.repository,
                row.tag or "",
                (row.digest or "")[:19],
                row.status,
                str(row.attempts),
                row.error or "",
            )
        console = Console()
        console.print(table)
        counted = _count(total, "event") if total is not None else "more events"
        console.print(f"{len(rows)} of {about}{counted}")

    _run(main())


@events_app.command("retry")
def events_retry(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Event ids (see `events list`).")] = None,
    all_failed: Annotated[bool, typer.Option("--all", help="Every failed event.")] = False,
) -> None:
    """Put failed events back in the queue."""
    from datetime import UTC, datetime

    from portside.db.engine import Database
    from portside.events import queue

    if not ids and not all_failed:
        _fail("name event ids, or --all")
    if ids and all_failed:
        _fail("name event ids or pass --all, not both")

    async def main() -> tuple[int, list[str]]:
        problems: list[str] = []
        async with Database(_settings(ctx).database_url) as db, db.write() as session:
            if ids:
                found = await queue.statuses(session, ids)
                for event_id in dict.fromkeys(ids):
                    state = found.get(event_id)
                    if state is None:
                        problems.append(f"event {event_id}: no such event")
                    elif state != queue.FAILED:
                        problems.append(f"event {event_id}: {state}, not failed; left as it is")
            queued = await queue.replay(session, None if all_failed else ids, datetime.now(UTC))
        return queued, problems

    queued, problems = _run(main())
    for problem in problems:
        _note(problem)
    print(f"{_count(queued, 'event')} queued again")
    if problems:
        raise typer.Exit(1)


# -- the index -------------------------------------------------------------------------------
@app.command()
def export(ctx: typer.Context) -> None:
    """Print the whole index as JSON, sorted by name."""
    from portside.db.engine import Database
    from portside.index import store

    async def main() -> dict[str, Any]:
        async with Database(_settings(ctx).database_url) as db, db.read() as session:
            return await store.export(session)

    json.dump(_run(main()), sys.stdout, indent=2)
    sys.stdout.write("\n")


@app.command("registry-config")
def registry_config(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(help="Portside's URL as the registry and its clients reach it."),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Leave the auth: section out (the registry keeps its own authentication).",
        ),
    ] = False,
    cert_file: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the token server's certificate (auth.token.rootcertbundle); "
            "default: data_dir/registry-auth.crt."
        ),
    ] = None,
) -> None:
    """Print the registry's config.yml fragment: auth: token: (Portside as the registry's token
    server; its certificate written to a file) and notifications: (the webhook, token
    included)."""
    from portside import embedded
    from portside.registry.config import render, token_auth
    from portside.tokenserver import claims

    settings = _settings(ctx)
    scheme = "https" if settings.server.tls else "http"
    base = url or f"{scheme}://{settings.server.host}:{settings.server.port}"
    tokens = settings.notifications.tokens
    token = tokens[0].get_secret_value() if tokens else None
    if token is None:
        token = embedded.token(settings.data_dir)
        where = settings.data_dir / embedded.TOKEN_FILE
        message = (
            f"the token is the embedded default's, from {where}"
            if token
            else "no webhook token is configured (notifications.tokens) and none was generated by "
            "`portside run` here: the snippet has no Authorization header, and Portside "
            "refuses notifications without one"
        )
        err().print(message, highlight=False, markup=False)
    auth = None
    service = None if no_auth else claims.service_name(settings)
    if not no_auth and service is None:
        err().print(
            "no auth: section: the registry's service name is unknown; set registry.url (its "
            "host:port is the service) or auth.token.service (--no-auth says this is meant)",
            highlight=False,
            markup=False,
        )
    elif service is not None:
        target = cert_file or settings.data_dir / "registry-auth.crt"
        _write_certificate(settings, target)
        realm = (url.rstrip("/") if url else claims.public_url(settings)) + "/v2/token"
        auth = token_auth(
            realm=realm,
            service=service,
            issuer=settings.auth.token.issuer,
            rootcertbundle=str(target.resolve()),
        )
        err().print(
            f"the registry must read {target} (the token server's certificate)",
            highlight=False,
            markup=False,
        )
    sys.stdout.write(render(base, token, auth))


def _write_certificate(settings: Settings, target: Path) -> None:
    """The token server's certificate (its key made and kept now if it is not yet)."""
    from portside.db import migrate
    from portside.db.engine import Database
    from portside.tokenserver.keys import TokenKeys

    async def main() -> str:
        async with Database(settings.database_url) as db:
            await migrate.wait_until_ready(db, 0)
            return (await TokenKeys(db, settings.auth.token).get()).certificate_pem

    pem = _run(main())
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(pem)
    except OSError as exc:
        _fail(f"cannot write the certificate to {target}: {exc}", 1)


@app.command()
def demo(
    ctx: typer.Context,
    repository: Annotated[str, typer.Option(help="Where to push it.")] = "demo/bookworm-python",
    tag: Annotated[str, typer.Option(help="Its tag.")] = "1.0",
) -> None:
    """Push a small demo image (Debian 12 and Python packages, no binaries) to the registry,
    so the first screen shows an image with its packages and, once advisories are imported,
    its vulnerabilities."""
    from portside import demo as demo_image
    from portside.index.names import check_repository, check_tag
    from portside.registry.client import RegistryClient

    settings = _with_registry(ctx)
    try:
        check_repository(repository)
        check_tag(tag)
    except PortsideError as exc:
        _fail(str(exc))

    async def main() -> str:
        async with RegistryClient(settings.registry) as client:
            return await demo_image.push(client, repository, tag)

    digest = _run(main())
    print(f"pushed {repository}:{tag} ({digest}) to {settings.registry.url}")


@app.command()
def version() -> None:
    """Print Portside's version."""
    print(__version__)
