"""Reading a Portus database: the only module that talks to one.

PyMySQL, run in a thread: the import is a one-shot command reading a few tables once, so an
asyncio driver buys nothing, and PyMySQL is pure Python (no MySQL client library to install,
nothing compiled). Every value is checked here, at the edge, by the same rules Portside's own
accounts follow (names by ``index.names`` and ``accounts.store``, visibilities and roles by
``PORTUS_VISIBILITY`` / ``PORTUS_ROLE``, integers in range, bounded text); a row that fails is
kept as a :class:`Refused` with its reason, and the others are read on.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from portside.accounts.errors import InvalidAccount
from portside.accounts.store import check_description, check_team_name, check_user_name
from portside.accounts.vocabulary import PORTUS_ROLE, PORTUS_VISIBILITY, Role, Visibility
from portside.errors import InvalidName, PortsideError
from portside.index.names import check_namespace, is_valid_repository, is_valid_tag

MAX_ROWS = 1_000_000  # per table: more is not a Portus installation we can vouch for
MAX_ID = 2**63 - 1
BCRYPT_HASH = re.compile(r"\$2[aby]\$[0-3][0-9]\$[./A-Za-z0-9]{53}")
BCRYPT_SALT = re.compile(r"\$2[aby]\$[0-3][0-9]\$[./A-Za-z0-9]{22}")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,255}")
# Portus's webhooks kept the method and content type as Rails enums (or, older, as text).
METHODS = {0: "GET", 1: "POST"}
CONTENT_TYPES = {0: "application/json", 1: "application/x-www-form-urlencoded"}
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 120


class PortusError(PortsideError):
    """The Portus database cannot be read (unreachable, refused, not Portus's tables)."""


class BadDsn(PortusError):
    """A DSN that is not a usable ``mysql://user:password@host:port/database`` URL."""


@dataclass(frozen=True)
class Dsn:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str

    def shown(self) -> str:
        """The DSN without its password, for messages."""
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"


def parse_dsn(text: str) -> Dsn:
    try:
        parts = urlsplit(text)
        port = parts.port or 3306
    except ValueError as exc:
        raise BadDsn("the DSN is not a URL such as mysql://user:password@host:3306/portus") from exc
    scheme = parts.scheme.split("+")[0]
    if scheme == "postgresql" or scheme == "postgres":
        raise BadDsn("a PostgreSQL Portus is not supported yet: only MySQL/MariaDB (mysql://)")
    if scheme not in ("mysql", "mariadb"):
        raise BadDsn(f"the DSN's scheme is {scheme!r}: use mysql://user:password@host:3306/portus")
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not database or "/" in database:
        raise BadDsn("the DSN needs a host and a database: mysql://user:password@host:3306/portus")
    return Dsn(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=database,
    )


# -- what is read ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortusUser:
    id: int
    name: str
    email: str | None
    password_hash: str | None
    admin: bool
    enabled: bool
    bot: bool
    ldap_name: str | None
    display_name: str | None
    namespace_id: int | None


@dataclass(frozen=True)
class PortusTeam:
    id: int
    name: str
    hidden: bool
    description: str


@dataclass(frozen=True)
class PortusMember:
    team_id: int
    user_id: int
    role: Role


@dataclass(frozen=True)
class PortusNamespace:
    id: int
    name: str  # "" for the global namespace
    team_id: int | None
    is_global: bool
    visibility: Visibility
    description: str


@dataclass(frozen=True)
class PortusToken:
    id: int
    user_id: int
    application: str
    token_hash: str
    salt: str


@dataclass(frozen=True)
class PortusWebhook:
    id: int
    namespace_id: int
    name: str
    url: str
    username: str | None
    password: str | None = field(repr=False)
    method: str
    content_type: str
    enabled: bool
    headers: dict[str, str]


@dataclass(frozen=True)
class PortusPusher:
    """Who pushed a tag, by Portus: the repository's full name, the tag, the user's name."""

    repository: str
    tag: str
    author: str


@dataclass(frozen=True)
class Refused:
    """A row that cannot be brought, and why."""

    kind: str
    key: str
    reason: str


@dataclass
class PortusData:
    users: list[PortusUser] = field(default_factory=list)
    teams: list[PortusTeam] = field(default_factory=list)
    members: list[PortusMember] = field(default_factory=list)
    namespaces: list[PortusNamespace] = field(default_factory=list)
    tokens: list[PortusToken] = field(default_factory=list)
    webhooks: list[PortusWebhook] = field(default_factory=list)
    pushers: list[PortusPusher] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


# -- checks ------------------------------------------------------------------------------------
class _Bad(PortusError):
    """One value of a row that cannot be used (the row is refused with this reason)."""


def _shown(value: Any) -> str:
    return repr(value)[:40]


def _id(value: Any, what: str = "id") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise _Bad(f"{what} {_shown(value)} is not a positive integer")
    return value


def _opt_id(value: Any, what: str) -> int | None:
    return None if value is None else _id(value, what)


def _flag(value: Any, what: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise _Bad(f"{what} {_shown(value)} is not 0 or 1")


def _text(value: Any, what: str, limit: int, *, optional: bool = False) -> str | None:
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode()
        except UnicodeDecodeError as exc:
            raise _Bad(f"{what} is not UTF-8") from exc
    if value is None or value == "":
        if optional:
            return None
        raise _Bad(f"{what} is empty")
    if not isinstance(value, str):
        raise _Bad(f"{what} is not text")
    if len(value) > limit:
        raise _Bad(f"{what} is longer than {limit} characters")
    if "\x00" in value:
        raise _Bad(f"{what} contains a NUL")
    return value


def _line(value: Any, what: str, limit: int, *, optional: bool = False) -> str | None:
    text = _text(value, what, limit, optional=optional)
    if text is not None and not text.isprintable():
        raise _Bad(f"{what} contains control characters")
    return text


def _must(value: str | None) -> str:
    assert value is not None
    return value


def _enum(value: Any, table: Mapping[int, str], what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value in table:
        return table[value]
    if isinstance(value, str) and value in table.values():
        return value
    raise _Bad(f"{what} {_shown(value)} is not one of {sorted(table)}")


def _account(check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except (InvalidAccount, InvalidName) as exc:
        raise _Bad(str(exc)) from exc


def _user(row: dict[str, Any]) -> PortusUser:
    name = _account(check_user_name, _must(_line(row["username"], "username", 255)))
    password = _text(row["encrypted_password"], "encrypted_password", 255, optional=True)
    if password is not None and BCRYPT_HASH.fullmatch(password) is None:
        raise _Bad("encrypted_password is not a bcrypt hash")
    return PortusUser(
        id=_id(row["id"]),
        name=name,
        email=_line(row["email"], "email", 255, optional=True),
        password_hash=password,
        admin=_flag(row["admin"], "admin", False),
        enabled=_flag(row["enabled"], "enabled", True),
        bot=_flag(row["bot"], "bot", False),
        ldap_name=_line(row["ldap_name"], "ldap_name", 1024, optional=True),
        display_name=_line(row["display_name"], "display_name", 255, optional=True),
        namespace_id=_opt_id(row["namespace_id"], "namespace_id"),
    )


def _team(row: dict[str, Any]) -> PortusTeam:
    hidden = _flag(row["hidden"], "hidden", False)
    name = _must(_line(row["name"], "name", 255))
    if not hidden:
        _account(check_team_name, name)
    description = _text(row["description"], "description", 4096, optional=True) or ""
    return PortusTeam(
        id=_id(row["id"]),
        name=name,
        hidden=hidden,
        description=_account(check_description, description),
    )


def _member(row: dict[str, Any]) -> PortusMember:
    return PortusMember(
        team_id=_id(row["team_id"], "team_id"),
        user_id=_id(row["user_id"], "user_id"),
        role=Role(_enum(row["role"], PORTUS_ROLE, "role")),
    )


def _namespace(row: dict[str, Any]) -> PortusNamespace:
    is_global = _flag(row["global"], "global", False)
    name = _must(_line(row["name"], "name", 255))
    if not is_global:
        _account(check_namespace, name)
    description = _text(row["description"], "description", 4096, optional=True) or ""
    return PortusNamespace(
        id=_id(row["id"]),
        name="" if is_global else name,
        team_id=_opt_id(row["team_id"], "team_id"),
        is_global=is_global,
        visibility=Visibility(_enum(row["visibility"], PORTUS_VISIBILITY, "visibility")),
        description=_account(check_description, description),
    )


def _token(row: dict[str, Any]) -> PortusToken:
    hashed = _must(_text(row["token_hash"], "token_hash", 255))
    salt = _must(_text(row["token_salt"], "token_salt", 64))
    if BCRYPT_HASH.fullmatch(hashed) is None:
        raise _Bad("token_hash is not a bcrypt hash")
    if BCRYPT_SALT.fullmatch(salt) is None or not hashed.startswith(salt):
        raise _Bad("token_salt is not the bcrypt salt of token_hash")
    return PortusToken(
        id=_id(row["id"]),
        user_id=_id(row["user_id"], "user_id"),
        application=_must(_line(row["application"], "application", 255)),
        token_hash=hashed,
        salt=salt,
    )


def _webhook(row: dict[str, Any], headers: dict[str, str]) -> PortusWebhook:
    url = _must(_line(row["url"], "url", 2048))
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise _Bad("url is not an http:// or https:// URL")
    webhook_id = _id(row["id"])
    username = _line(row["username"], "username", 255, optional=True)
    if username is not None and ":" in username:
        raise _Bad("username contains a ':' (basic auth cannot carry it)")
    return PortusWebhook(
        id=webhook_id,
        namespace_id=_id(row["namespace_id"], "namespace_id"),
        name=_line(row["name"], "name", 200, optional=True) or f"webhook-{webhook_id}",
        url=url,
        username=username,
        password=_line(row["password"], "password", 255, optional=True),
        method=_enum(row["request_method"], METHODS, "request_method"),
        content_type=_enum(row["content_type"], CONTENT_TYPES, "content_type"),
        enabled=_flag(row["enabled"], "enabled", True),
        headers=headers,
    )


def _header(row: dict[str, Any]) -> tuple[int, str, str]:
    name = _must(_line(row["name"], "header name", 255))
    if HEADER_NAME.fullmatch(name) is None:
        raise _Bad(f"header name {name[:40]!r} is not an HTTP header name")
    value = _line(row["value"], f"header {name}'s value", 4096, optional=True) or ""
    return _id(row["webhook_id"], "webhook_id"), name, value


def _pusher(row: dict[str, Any]) -> PortusPusher | None:
    author = _line(row["username"], "username", 255, optional=True) or _line(
        row["user_name"], "user's name", 255, optional=True
    )
    if author is None:
        return None
    repository = _must(_line(row["repository"], "repository", 255))
    if not _flag(row["is_global"], "global", False):
        repository = f"{_must(_line(row['namespace'], 'namespace', 255))}/{repository}"
    tag = _must(_line(row["name"], "tag", 128))
    if not is_valid_repository(repository) or not is_valid_tag(tag):
        raise _Bad("not a valid repository and tag name")
    return PortusPusher(repository=repository, tag=tag, author=author)


# -- the queries -------------------------------------------------------------------------------
QUERIES = {
    "user": "SELECT id, username, email, encrypted_password, admin, enabled, bot, ldap_name, "
    "namespace_id, display_name FROM users ORDER BY id",
    "team": "SELECT id, name, hidden, description FROM teams ORDER BY id",
    "member": "SELECT id, user_id, team_id, role FROM team_users ORDER BY id",
    "namespace": "SELECT id, name, team_id, `global`, description, visibility FROM namespaces "
    "ORDER BY id",
    "token": "SELECT id, application, token_hash, token_salt, user_id FROM application_tokens "
    "ORDER BY id",
    "webhook": "SELECT id, namespace_id, name, url, username, password, request_method, "
    "content_type, enabled FROM webhooks ORDER BY id",
    "header": "SELECT id, webhook_id, name, value FROM webhook_headers ORDER BY id",
    "tag author": "SELECT t.id, t.name, t.username, u.username AS user_name, r.name AS "
    "repository, n.name AS namespace, n.`global` AS is_global FROM tags t "
    "JOIN repositories r ON r.id = t.repository_id JOIN namespaces n ON n.id = r.namespace_id "
    "LEFT JOIN users u ON u.id = t.user_id ORDER BY t.id",
}

T = TypeVar("T")


def _rows(cursor: Any, kind: str) -> Iterator[dict[str, Any]]:
    cursor.execute(QUERIES[kind])
    for count, row in enumerate(iter(cursor.fetchone, None)):
        if count >= MAX_ROWS:
            raise PortusError(f"more than {MAX_ROWS} rows in Portus's {kind} table")
        yield row


def _each(
    data: PortusData, cursor: Any, kind: str, make: Callable[[dict[str, Any]], T | None]
) -> list[T]:
    found: list[T] = []
    for row in _rows(cursor, kind):
        try:
            made = make(row)
        except _Bad as exc:
            data.refused.append(Refused(kind, f"#{row.get('id')}", str(exc)))
            continue
        if made is not None:
            found.append(made)
    return found


def _read_all(cursor: Any) -> PortusData:
    data = PortusData()
    data.users = _each(data, cursor, "user", _user)
    data.teams = _each(data, cursor, "team", _team)
    data.members = _each(data, cursor, "member", _member)
    data.namespaces = _each(data, cursor, "namespace", _namespace)
    data.tokens = _each(data, cursor, "token", _token)
    headers: dict[int, dict[str, str]] = {}
    bad_headers: dict[int, str] = {}
    for row in _rows(cursor, "header"):
        try:
            webhook_id, name, value = _header(row)
        except _Bad as exc:
            bad_headers[row.get("webhook_id") or 0] = str(exc)
            continue
        headers.setdefault(webhook_id, {})[name] = value

    def webhook(row: dict[str, Any]) -> PortusWebhook:
        if row.get("id") in bad_headers:
            raise _Bad(bad_headers[row["id"]])
        return _webhook(row, headers.get(row["id"], {}))

    data.webhooks = _each(data, cursor, "webhook", webhook)
    data.pushers = _each(data, cursor, "tag author", _pusher)
    return data


def _read(dsn: Dsn) -> PortusData:
    import pymysql
    import pymysql.cursors

    try:
        connection = pymysql.connect(
            host=dsn.host,
            port=dsn.port,
            user=dsn.user,
            password=dsn.password,
            database=dsn.database,
            charset="utf8mb4",
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            cursorclass=pymysql.cursors.SSDictCursor,
        )
    except pymysql.Error as exc:
        raise PortusError(f"cannot connect to {dsn.shown()}: {_reason(exc)}") from exc
    try:
        with connection.cursor() as cursor:
            return _read_all(cursor)
    except pymysql.Error as exc:
        raise PortusError(f"cannot read Portus's tables in {dsn.shown()}: {_reason(exc)}") from exc
    finally:
        connection.close()


def _reason(exc: BaseException) -> str:
    args: tuple[Any, ...] = tuple(exc.args)
    return str(args[1]) if len(args) > 1 else str(exc)


async def read_portus(dsn: Dsn) -> PortusData:
    """Every row the import needs, checked; the rows that cannot be used in ``refused``."""
    return await asyncio.to_thread(_read, dsn)
