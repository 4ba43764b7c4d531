"""Re-checking a directory user who uses a personal token.

A personal token (``pst_...``, as an API Bearer token or as the password at the registry's token
server) is checked locally; its owner never typed a directory password, so without more a user
deleted from the directory would keep its access until someone disables it. So, when the
owner came from the directory (``ldap_name`` set) and ``auth.ldap`` is set, the directory is
asked again whether the user is still there, at most every ``auth.ldap.recheck_interval``
seconds (``users.directory_checked_at`` is the last confirmation, a login included):

- still there: allowed, and the confirmation's time noted;
- gone (no entry matches ``user_filter``): the user is disabled, as a password login does
  (:mod:`portside.accounts.logins`), and the token refused. Only an admin enables it again;
- the directory cannot be reached: allowed while the last confirmation is less than
  ``auth.ldap.recheck_grace`` seconds old (default a day: an outage does not stop CI at
  once), then refused with :class:`~portside.accounts.ldap.DirectoryUnavailable` (503): a
  user who may have left is not let in forever on an old answer;
- an answer that proves nothing (several entries, no uid): as an outage, but refused (401)
  after the grace, since the directory did answer.

The decisions are pure functions of (last confirmation, now, the settings, the answer); the
directory is asked outside any database transaction, the database work is a short write after.
Local users, bots and every user while ``auth.ldap`` is unset are never re-checked.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import Enum

from portside.accounts import store
from portside.accounts.ldap import Directory, DirectoryUnavailable, Presence
from portside.db.engine import Database
from portside.db.models import User
from portside.settings import LdapSettings

log = logging.getLogger(__name__)


class Outcome(Enum):
    CONFIRMED = "confirmed"  # allowed; note the time
    GRACE = "grace"  # allowed on the last confirmation
    DISABLE = "disable"  # gone from the directory: disable the user, refuse
    UNAVAILABLE = "unavailable"  # no answer past the grace: refuse (503)
    REFUSE = "refuse"  # no usable answer past the grace: refuse (401)


# -- decisions --------------------------------------------------------------------------------
def needs_recheck(user: User, settings: LdapSettings | None) -> bool:
    """Whether this token owner is a directory user the directory may be asked about."""
    return settings is not None and user.ldap_name is not None and not user.bot


def recheck_due(checked_at: datetime | None, now: datetime, interval: float) -> bool:
    """Whether the directory must be asked again: never confirmed, confirmed ``interval``
    seconds ago or more, or confirmed "in the future" (a clock that went back: not trusted)."""
    if checked_at is None:
        return True
    age = now - checked_at
    return age >= timedelta(seconds=interval) or age < -timedelta(seconds=interval)


def within_grace(checked_at: datetime | None, now: datetime, grace: float) -> bool:
    """Whether the last confirmation is recent enough to go on without the directory (either
    way: a clock that went back a little is no reason to refuse)."""
    return checked_at is not None and abs(now - checked_at) < timedelta(seconds=grace)


def outcome(
    presence: Presence | None, checked_at: datetime | None, now: datetime, grace: float
) -> Outcome:
    """What a re-check's answer means (``presence`` None: the directory could not be asked)."""
    if presence is Presence.PRESENT:
        return Outcome.CONFIRMED
    if presence is Presence.GONE:
        return Outcome.DISABLE
    if within_grace(checked_at, now, grace):
        return Outcome.GRACE
    return Outcome.UNAVAILABLE if presence is None else Outcome.REFUSE


# -- I/O around them --------------------------------------------------------------------------
async def confirm(db: Database, settings: LdapSettings, user: User, now: datetime) -> bool:
    """Whether the directory user ``user`` (the owner of a valid personal token, read before
    this call) may go on. Asks the directory when a re-check is due; disables the user when
    it is gone. Raises DirectoryUnavailable when the directory cannot be asked and the grace
    is over."""
    checked_at = user.directory_checked_at
    if not recheck_due(checked_at, now, settings.recheck_interval):
        return True
    error: DirectoryUnavailable | None = None
    try:
        presence: Presence | None = await Directory(settings).lookup(user.name)
    except DirectoryUnavailable as exc:
        presence, error = None, exc
    decided = outcome(presence, checked_at, now, settings.recheck_grace)
    fields = {"user": user.name, "outcome": decided.value}
    if decided is Outcome.GRACE:
        log.warning(
            "directory user %r: re-check not possible (%s); its token works on the last "
            "confirmation",
            user.name,
            error or "the directory's answer proves nothing",
            extra=fields,
        )
        return True
    if decided is Outcome.UNAVAILABLE:
        assert error is not None
        log.error(
            "directory user %r: re-check not possible past auth.ldap.recheck_grace: %s",
            user.name,
            error,
            extra=fields,
        )
        raise error
    if decided is Outcome.REFUSE:
        log.warning("directory user %r: no usable answer past the grace: refused", user.name)
        return False
    async with db.write() as session:
        current = await store.user_by_id(session, user.id)
        if current is None or not current.enabled:
            return False
        if decided is Outcome.DISABLE:
            current.enabled = False
            current.updated_at = now
            log.warning(
                "directory user %r is no longer in the directory: disabled (its personal "
                "token was refused)",
                user.name,
                extra=fields,
            )
            return False
        current.directory_checked_at = now
    return True
