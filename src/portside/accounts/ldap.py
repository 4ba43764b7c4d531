"""The directory (LDAP): the one module that talks to it, through ``ldap3``.

``ldap3`` is pure Python (no libldap headers to build against, unlike python-ldap and bonsai),
typed through typeshed's stubs, and does StartTLS, LDAPS with a CA file and timeouts on connect
and on every answer. Its last release (2.9.1) is from 2021: it still works on current Python
and pyasn1, with deprecation warnings (filtered in pyproject's pytest settings). Its calls
block: :meth:`Directory.authenticate` runs them in a worker thread, each bounded by
``auth.ldap.timeout``.

A login is: a search for the user's entry (as the service account ``bind_dn``, or anonymously)
with ``user_filter`` (the name escaped per RFC 4515), then a simple bind as that entry with the
password given (never with an empty password: the server would take it as an anonymous bind
and "succeed"), then, when ``group_base`` is set, a search for the groups the entry is a member
of. Errors of the network, of TLS or of the service bind are raised as
:class:`DirectoryUnavailable`; a wrong password or an unknown name is an answer, not an error.

A re-check (:meth:`Directory.lookup`, for the owner of a personal token) is the same user
search without the user's bind: is the entry still there (:class:`Presence`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from portside.errors import PortsideError
from portside.settings import LdapSettings

log = logging.getLogger(__name__)

MAX_NAME = 255
MAX_PASSWORD = 1024
MAX_GROUPS = 1000
MAX_EMAIL = 255
INVALID_CREDENTIALS = 49


class DirectoryUnavailable(PortsideError):
    """The directory cannot be asked now (unreachable, TLS refused, timeout, the service
    account refused): directory users cannot log in; local accounts can."""


@dataclass(frozen=True)
class DirectoryEntry:
    dn: str
    uid: str  # the uid_attribute's value: the Portside user name
    email: str | None
    groups: frozenset[str]  # the group_attribute values of the groups it is a member of


@dataclass(frozen=True)
class Attempt:
    """What the directory answered to a login: the entry when the password is right, else
    None, with ``unknown`` set when the name has no entry at all (deleted, or filtered out)."""

    entry: DirectoryEntry | None
    unknown: bool = False


REFUSED = Attempt(None)
UNKNOWN = Attempt(None, unknown=True)


class Presence(Enum):
    """What the directory answered to "is this user still there" (no password asked)."""

    PRESENT = "present"
    GONE = "gone"  # no entry matches user_filter: deleted, or filtered out
    UNCLEAR = "unclear"  # an answer that proves nothing (several entries, no uid)


def escape_filter_value(value: str) -> str:
    """``value`` for an LDAP search filter (RFC 4515: ``\\ * ( )`` and NUL as ``\\XX``)."""
    return "".join(f"\\{ord(char):02x}" if char in "\\*()\x00" else char for char in value)


def user_filter(settings: LdapSettings, name: str) -> str:
    return settings.user_filter.replace("{username}", escape_filter_value(name))


def group_filter(settings: LdapSettings, dn: str, uid: str) -> str:
    return settings.group_filter.replace("{dn}", escape_filter_value(dn)).replace(
        "{username}", escape_filter_value(uid)
    )


def _first(values: Any) -> str | None:
    if isinstance(values, list | tuple):
        values = values[0] if values else None
    if isinstance(values, bytes):
        values = values.decode("utf-8", "replace")
    return values if isinstance(values, str) and values else None


class Directory:
    """The directory ``auth.ldap`` names. Nothing is opened until a login asks."""

    def __init__(self, settings: LdapSettings):
        self.settings = settings

    async def authenticate(self, name: str, password: str) -> Attempt:
        """Check ``password`` for ``name``; DirectoryUnavailable when the directory cannot
        answer."""
        if not name or not password or len(name) > MAX_NAME or len(password) > MAX_PASSWORD:
            return REFUSED
        return await asyncio.to_thread(self._authenticate, name, password)

    async def lookup(self, name: str) -> Presence:
        """Whether ``name`` still has an entry (the login's search, as the service account or
        anonymously; no bind as the user); DirectoryUnavailable when the directory cannot
        answer."""
        if not name or len(name) > MAX_NAME:
            return Presence.UNCLEAR
        return await asyncio.to_thread(self._lookup, name)

    # -- blocking, in a worker thread -----------------------------------------------------------
    def _server(self) -> Any:
        import ldap3

        parts = urlsplit(self.settings.url)
        secure = parts.scheme == "ldaps"
        tls = None
        if secure or self.settings.start_tls:
            tls = ldap3.Tls(
                validate=ssl.CERT_REQUIRED,
                version=ssl.PROTOCOL_TLS_CLIENT,
                ca_certs_file=str(self.settings.ca_file) if self.settings.ca_file else None,
            )
        return ldap3.Server(
            parts.hostname or "",
            port=parts.port or (636 if secure else 389),
            use_ssl=secure,
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=self.settings.timeout,
        )

    def _connect(self, server: Any, dn: str | None, password: str | None) -> Any:
        """An open (and StartTLS'd) connection bound as ``dn``, or anonymously; a refused
        bind leaves it unbound (``bound`` false, ``result`` saying why)."""
        import ldap3

        connection = ldap3.Connection(
            server,
            user=dn,
            password=password,
            authentication=ldap3.SIMPLE if dn is not None else ldap3.ANONYMOUS,
            receive_timeout=max(1, math.ceil(self.settings.timeout)),  # whole seconds
            raise_exceptions=False,
            read_only=True,
            auto_referrals=False,
        )
        try:
            connection.open()
            if self.settings.start_tls and not connection.start_tls():
                raise DirectoryUnavailable(f"the directory refused StartTLS: {_said(connection)}")
            connection.bind()
        except BaseException:
            _close(connection)
            raise
        return connection

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        """The directory's and the network's errors as :class:`DirectoryUnavailable`."""
        import ldap3.core.exceptions as ldap_errors

        try:
            yield
        except (ldap_errors.LDAPException, OSError) as exc:
            raise DirectoryUnavailable(
                f"the directory at {self.settings.url} cannot be reached: {_reason(exc)}"
            ) from exc

    def _authenticate(self, name: str, password: str) -> Attempt:
        with self._reaching():
            server = self._server()
            service = self._service(server)
            try:
                found = self._find_user(service, name)
                if isinstance(found, Attempt):
                    return found
                dn, uid, email = found
                if not self._password_ok(server, dn, password):
                    return REFUSED
                groups = self._groups(service, dn, uid)
            finally:
                _close(service)
        return Attempt(DirectoryEntry(dn=dn, uid=uid, email=email, groups=groups))

    def _lookup(self, name: str) -> Presence:
        with self._reaching():
            service = self._service(self._server())
            try:
                found = self._find_user(service, name)
            finally:
                _close(service)
        if found is UNKNOWN:
            return Presence.GONE
        return Presence.UNCLEAR if isinstance(found, Attempt) else Presence.PRESENT

    def _service(self, server: Any) -> Any:
        """A connection bound as the service account (or anonymously); DirectoryUnavailable
        when the directory refuses that bind."""
        settings = self.settings
        password = settings.bind_password.get_secret_value() if settings.bind_password else None
        service = self._connect(server, settings.bind_dn, password)
        if not service.bound:
            _close(service)
            raise DirectoryUnavailable(
                "the directory refused Portside's own bind (auth.ldap.bind_dn and "
                f"bind_password): {_said(service)}"
            )
        return service

    def _find_user(self, service: Any, name: str) -> tuple[str, str, str | None] | Attempt:
        """The entry's DN, uid and email; UNKNOWN when no entry matches; REFUSED when the
        answer cannot be used (several entries, no uid): that is no proof the user left."""
        import ldap3

        settings = self.settings
        ok = service.search(
            settings.user_base,
            user_filter(settings, name),
            search_scope=ldap3.SUBTREE,
            attributes=[settings.uid_attribute, settings.email_attribute],
            size_limit=2,
        )
        entries = [item for item in service.response or [] if item.get("type") == "searchResEntry"]
        code = service.result.get("result") if service.result else None
        if not ok and not entries and code != 0:
            # noSuchObject (a wrong user_base) included: no user is taken for gone over it.
            raise DirectoryUnavailable(f"the user search failed: {_said(service)}")
        if not entries:
            return UNKNOWN
        if len(entries) > 1:
            log.warning(
                "several directory entries match the login name %r: refused (user_filter "
                "must match one entry)",
                name[:80],
            )
            return REFUSED
        entry = entries[0]
        attributes = entry.get("attributes") or {}
        uid = _first(attributes.get(settings.uid_attribute))
        if uid is None:
            log.warning(
                "directory entry %s has no %s: refused", entry["dn"], settings.uid_attribute
            )
            return REFUSED
        email = _first(attributes.get(settings.email_attribute))
        if email is not None and len(email) > MAX_EMAIL:
            email = None
        return str(entry["dn"]), uid, email

    def _password_ok(self, server: Any, dn: str, password: str) -> bool:
        user = self._connect(server, dn, password)
        try:
            if user.bound:
                return True
            code = user.result.get("result") if user.result else None
            if code != INVALID_CREDENTIALS:
                log.info("directory bind of %s refused: %s", dn, _said(user))
            return False
        finally:
            _close(user)

    def _groups(self, service: Any, dn: str, uid: str) -> frozenset[str]:
        import ldap3

        settings = self.settings
        if settings.group_base is None:
            return frozenset()
        ok = service.search(
            settings.group_base,
            group_filter(settings, dn, uid),
            search_scope=ldap3.SUBTREE,
            attributes=[settings.group_attribute],
            size_limit=MAX_GROUPS,
        )
        code = service.result.get("result") if service.result else None
        if not ok and code not in (0, 4, 32):  # 4: sizeLimitExceeded (keep what came)
            raise DirectoryUnavailable(f"the group search failed: {_said(service)}")
        groups = set()
        for item in service.response or []:
            if item.get("type") != "searchResEntry":
                continue
            values = (item.get("attributes") or {}).get(settings.group_attribute) or []
            for value in values if isinstance(values, list) else [values]:
                if (text := _first(value)) is not None:
                    groups.add(text)
        return frozenset(groups)


def _close(connection: Any) -> None:
    """Close a connection that failed half-way (ldap3 leaves a refused socket open)."""
    with contextlib.suppress(Exception):  # closing what failed already: its error is raised
        connection.unbind()
    sock = getattr(connection, "socket", None)
    if sock is not None:
        sock.close()


def _reason(exc: BaseException) -> str:
    """ldap3's message without the tuples it wraps it in."""
    return str(exc).strip("()'\", ")[:300] or type(exc).__name__


def _said(connection: Any) -> str:
    result = connection.result or {}
    description = result.get("description") or "no answer"
    message = result.get("message") or ""
    return f"{description} {message}".strip()[:300]
