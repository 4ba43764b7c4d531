"""Checking a user name and password (or personal token): the one function the login page and
the registry's token server call.

The order: a personal token (``pst_...``) is checked locally, whoever owns it; a directory
user's token also needs the directory's confirmation that the user is still there, asked at
most every ``auth.ldap.recheck_interval`` seconds (:mod:`portside.accounts.recheck`). A local
account (a user without ``ldap_name``)
is checked against its local password hash and never against the directory, so the local
admin logs in while the directory is down, and a directory entry of the same name cannot take
a local account over. Every other name goes to the directory when ``auth.ldap`` is set:

- right password: the user is created on its first login (``ldap_name`` = its DN, no local
  password, a personal namespace as for any user); its email, DN, team memberships of the
  mapped groups (``auth.ldap.groups``) and admin flag (``auth.ldap.admin_group``, when set)
  follow the directory at every login. A user disabled in Portside stays refused.
- wrong password: refused, nothing changes.
- no entry (deleted from the directory, or filtered out by ``user_filter``): refused, and a
  Portside user of that name that came from the directory is disabled, so that its personal
  tokens stop working too. Only an admin enables it again (``portside user enable``).
- the directory cannot be asked: :class:`~portside.accounts.ldap.DirectoryUnavailable`.

The directory is asked outside any database transaction (it may take up to
``auth.ldap.timeout``); the database work is a short write afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts import recheck, store
from portside.accounts.errors import AccountConflict, InvalidAccount
from portside.accounts.ldap import Attempt, Directory, DirectoryEntry
from portside.accounts.vocabulary import Role
from portside.db.engine import Database
from portside.db.models import User
from portside.index.names import is_valid_namespace
from portside.settings import LdapGroupSettings, LdapSettings

log = logging.getLogger(__name__)

RANK = {Role.VIEWER: 0, Role.CONTRIBUTOR: 1, Role.OWNER: 2}


# -- decisions --------------------------------------------------------------------------------
def wanted_roles(
    groups: frozenset[str], mapping: Mapping[str, LdapGroupSettings]
) -> dict[str, Role]:
    """The role the user should have in each mapped team, from its groups: the highest one
    when several of its groups map to the same team. A mapped team missing here is one the
    user should not be in."""
    wanted: dict[str, Role] = {}
    for group, target in mapping.items():
        if group not in groups:
            continue
        role = Role(target.role)
        current = wanted.get(target.team)
        if current is None or RANK[role] > RANK[current]:
            wanted[target.team] = role
    return wanted


def mapped_teams(mapping: Mapping[str, LdapGroupSettings]) -> set[str]:
    return {target.team for target in mapping.values()}


def goes_to_directory(user: User | None, secret: str, settings: LdapSettings | None) -> bool:
    """Whether this login is checked by the directory (else locally)."""
    if settings is None or secret.startswith(store.TOKEN_PREFIX):
        return False
    return user is None or (user.ldap_name is not None and not user.bot)


# -- I/O around them --------------------------------------------------------------------------
async def check(
    db: Database,
    settings: LdapSettings | None,
    name: str,
    secret: str,
    now: datetime,
    *,
    registry_url: str | None,
) -> int | None:
    """The id of the enabled user ``name`` whose password or personal token ``secret`` is,
    else None. Raises DirectoryUnavailable when this login needs the directory and it cannot
    be asked."""
    async with db.read() as session:
        user = await store.user_by_name(session, name)
    if not goes_to_directory(user, secret, settings):
        async with db.write() as session:
            found = await store.authenticate(session, name, secret, now)
        if found is None:
            return None
        if secret.startswith(store.TOKEN_PREFIX) and recheck.needs_recheck(found, settings):
            assert settings is not None
            if not await recheck.confirm(db, settings, found, now):
                return None
        return found.id
    assert settings is not None
    attempt = await Directory(settings).authenticate(name, secret)
    return await _apply(db, settings, name, attempt, now, registry_url=registry_url)


async def _apply(
    db: Database,
    settings: LdapSettings,
    name: str,
    attempt: Attempt,
    now: datetime,
    *,
    registry_url: str | None,
) -> int | None:
    entry = attempt.entry
    async with db.write() as session:
        if entry is None:
            user = await store.user_by_name(session, name)
            vanished = attempt.unknown and user is not None and user.ldap_name is not None
            if vanished and user is not None and user.enabled:
                user.enabled = False
                user.updated_at = now
                log.warning(
                    "directory user %r is no longer in the directory: disabled",
                    name,
                    extra={"user": name},
                )
            return None
        user = await store.user_by_name(session, entry.uid)
        if user is None:
            user = await _create(session, entry, now, registry_url)
            if user is None:
                return None
        elif user.ldap_name is None or user.bot:
            log.warning(
                "directory entry %s names the local user %r: refused (a local account is "
                "never taken over by the directory)",
                entry.dn,
                entry.uid,
                extra={"user": entry.uid},
            )
            return None
        if not user.enabled:
            return None
        await _update(session, settings, user, entry, now)
        return user.id


async def _create(
    session: AsyncSession, entry: DirectoryEntry, now: datetime, registry_url: str | None
) -> User | None:
    from portside.index.store import ensure_registry

    if not is_valid_namespace(entry.uid):
        log.warning(
            "directory user %r cannot be a Portside user: %s",
            entry.uid[:80],
            "a user name is lower-case letters and digits joined by . _ - (it is also a namespace)",
        )
        return None
    if not registry_url:
        log.error("directory user %r not created: registry.url is not set", entry.uid)
        return None
    registry_id = await ensure_registry(session, registry_url, now)
    try:
        user = await store.add_user(
            session, entry.uid, now, registry_id=registry_id, email=entry.email
        )
    except (InvalidAccount, AccountConflict) as exc:
        log.warning("directory user %r not created: %s", entry.uid, exc)
        return None
    user.ldap_name = entry.dn
    log.info("directory user %r created on its first login", entry.uid, extra={"user": entry.uid})
    return user


async def _update(
    session: AsyncSession,
    settings: LdapSettings,
    user: User,
    entry: DirectoryEntry,
    now: datetime,
) -> None:
    if user.ldap_name != entry.dn:
        user.ldap_name = entry.dn
    if user.email != entry.email:
        user.email = entry.email
    if settings.admin_group is not None:
        user.admin = settings.admin_group in entry.groups
    changes = await store.sync_directory_teams(
        session,
        user,
        wanted_roles(entry.groups, settings.groups),
        mapped_teams(settings.groups),
        now,
    )
    if changes:
        log.info("directory user %r: %s", user.name, "; ".join(changes), extra={"user": user.name})
    user.last_login_at = now
    user.directory_checked_at = now  # the directory knows the user: no re-check due for a while
    user.updated_at = now
