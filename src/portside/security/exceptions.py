"""The CVE allowlist: vulnerability exceptions, per namespace or global, with a reason and an
expiry. All their SQL is here; whether one applies is a pure function of the data and now.

An exception names a vulnerability as the operator gives it (an advisory id such as
``GHSA-...`` or ``PYSEC-...``, or any alias such as ``CVE-2021-44228``, any case). When it is
loaded to be applied (:func:`active`) the name is looked up in ``advisory_aliases``, so it
covers the advisories that carry that name; a finding is also covered when its own id or one of
its aliases is the name (an external scanner's id, or an advisory not loaded).

Every exception expires: ``days`` is required to be 1..:data:`MAX_DAYS` (default
:data:`DEFAULT_DAYS`), so an exception is looked at again; an expired one stops applying at
once (:func:`applies` takes now) and is kept, listed as expired, until removed.

``namespace`` None is global (every repository); a name (``""`` the global namespace of
repositories without a "/") covers that namespace's repositories only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts import store as accounts
from portside.accounts.policy import Principal, may_manage, may_read
from portside.db.models import AdvisoryAlias, VulnerabilityException
from portside.errors import PortsideError
from portside.security.severity import counts

MAX_ID = 255
MAX_REASON = 1000
MAX_DAYS = 365
DEFAULT_DAYS = 90
BY_ADMIN_TOKEN = "admin-token"  # noqa: S105 (``created_by`` when an API admin token added it)


class ExceptionError(PortsideError):
    """A change to the allowlist refused."""


class InvalidException(ExceptionError):
    """A vulnerability id, reason, namespace or expiry that cannot be used."""


class ExceptionNotFound(ExceptionError):
    """No exception with that id, or no namespace of that name."""


class ExceptionRefused(ExceptionError):
    """The caller may not change it: global exceptions are the admins', a namespace's its
    team owners' (and the admins')."""


@dataclass(frozen=True)
class Allowance:
    """One exception as it is applied: ``names`` the lower-case names it covers (its
    vulnerability and the advisory ids that carry it), ``ids`` the same in the advisories'
    own spelling (for SQL on ``findings.advisory_id``)."""

    id: int
    namespace: str | None
    vulnerability: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    names: frozenset[str]
    ids: tuple[str, ...]

    def shown(self) -> dict[str, Any]:
        """What a finding covered by it carries as ``allowed``."""
        return {
            "exception": self.id,
            "vulnerability": self.vulnerability,
            "namespace": self.namespace,
            "reason": self.reason,
            "by": self.created_by,
            "until": self.expires_at.isoformat(),
        }


def applies(
    exception: Allowance,
    namespace: str,
    advisory_id: str,
    aliases: Iterable[str],
    now: datetime,
) -> bool:
    """Whether ``exception`` covers a finding of ``advisory_id`` (with ``aliases``) in a
    repository of ``namespace`` at ``now`` (pure): not expired, global or for that namespace,
    and naming the advisory or one of its aliases (ignoring case)."""
    if now >= exception.expires_at:
        return False
    if exception.namespace is not None and exception.namespace != namespace:
        return False
    if advisory_id.lower() in exception.names:
        return True
    return any(isinstance(a, str) and a.lower() in exception.names for a in aliases)


def covering(
    exceptions: Iterable[Allowance],
    namespace: str,
    advisory_id: str,
    aliases: Iterable[str],
    now: datetime,
) -> Allowance | None:
    """The first exception (by id) covering the finding, None when none does."""
    names = list(aliases)
    for exception in exceptions:
        if applies(exception, namespace, advisory_id, names, now):
            return exception
    return None


def mark(
    findings: Iterable[Mapping[str, Any]],
    namespace: str,
    exceptions: Sequence[Allowance],
    now: datetime,
) -> tuple[list[dict[str, Any]], int]:
    """The findings (copies) with ``allowed`` set on each an exception covers (its reason,
    who, until when), and how many are allowed (pure)."""
    out: list[dict[str, Any]] = []
    allowed = 0
    for finding in findings:
        copy = dict(finding)
        copy.pop("allowed", None)
        advisory = finding.get("id")
        if exceptions and isinstance(advisory, str):
            found = covering(exceptions, namespace, advisory, finding.get("aliases") or (), now)
            if found is not None:
                copy["allowed"] = found.shown()
                allowed += 1
        out.append(copy)
    return out, allowed


def counted(findings: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Severity counts of the findings no exception allows (what a verdict rests on)."""
    return counts(str(f.get("severity")) for f in findings if not f.get("allowed"))


def check(vulnerability: str, reason: str, days: int) -> tuple[str, str]:
    """The vulnerability id and reason as stored, or :class:`InvalidException` saying why."""
    name = vulnerability.strip()
    if not name or len(name) > MAX_ID or not name.isprintable() or " " in name:
        raise InvalidException(
            f"{vulnerability[:80]!r}: a vulnerability id (an advisory id or alias such as "
            f"CVE-2021-44228), 1 to {MAX_ID} characters without spaces"
        )
    why = reason.strip()
    if not why:
        raise InvalidException("a reason is required")
    if len(why) > MAX_REASON:
        raise InvalidException(f"the reason is longer than {MAX_REASON} characters")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidException(f"the expiry must be 1 to {MAX_DAYS} days, not {days}")
    return name, why


async def add(
    session: AsyncSession,
    vulnerability: str,
    *,
    namespace: str | None,
    reason: str,
    days: int,
    by: str,
    now: datetime,
) -> VulnerabilityException:
    """A new exception (the caller has checked that ``by`` may add it to ``namespace``)."""
    name, why = check(vulnerability, reason, days)
    row = VulnerabilityException(
        namespace=namespace,
        vulnerability=name,
        reason=why,
        expires_at=now + timedelta(days=days),
        created_by=by[:MAX_ID],
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, number: int) -> VulnerabilityException | None:
    return await session.get(VulnerabilityException, number)


async def remove(session: AsyncSession, number: int) -> None:
    """Delete one exception; :class:`ExceptionNotFound` when there is none."""
    result = await session.execute(
        delete(VulnerabilityException).where(VulnerabilityException.id == number)
    )
    if not getattr(result, "rowcount", 0):
        raise ExceptionNotFound(f"no exception {number}")


async def listed(
    session: AsyncSession, now: datetime, *, expired: bool = True
) -> list[VulnerabilityException]:
    """Every exception by id (``expired`` False: only those still in force)."""
    query = select(VulnerabilityException).order_by(VulnerabilityException.id)
    if not expired:
        query = query.where(VulnerabilityException.expires_at > now)
    return list((await session.scalars(query)).all())


async def active(session: AsyncSession, now: datetime) -> list[Allowance]:
    """The exceptions in force at ``now``, each with the advisory ids its name resolves to."""
    rows = await listed(session, now, expired=False)
    if not rows:
        return []
    keys = sorted({row.vulnerability.lower() for row in rows})
    resolved: dict[str, set[str]] = {}
    for key, advisory in (
        await session.execute(
            select(AdvisoryAlias.key, AdvisoryAlias.advisory_id).where(AdvisoryAlias.key.in_(keys))
        )
    ).all():
        resolved.setdefault(key, set()).add(advisory)
    found = []
    for row in rows:
        ids = {row.vulnerability, *resolved.get(row.vulnerability.lower(), ())}
        found.append(
            Allowance(
                id=row.id,
                namespace=row.namespace,
                vulnerability=row.vulnerability,
                reason=row.reason,
                created_by=row.created_by,
                created_at=row.created_at,
                expires_at=row.expires_at,
                names=frozenset(i.lower() for i in ids),
                ids=tuple(sorted(ids)),
            )
        )
    return found


# -- as a principal (the API and the CLI) ------------------------------------------------------
async def _check_manage(session: AsyncSession, principal: Principal, namespace: str | None) -> None:
    if namespace is None:
        if not principal.admin:
            raise ExceptionRefused("only admins may add or remove a global exception")
        return
    found = await accounts.namespace_by_name(session, namespace)
    if found is None:
        if principal.admin:
            raise ExceptionNotFound(f"no namespace {namespace!r}")
        raise ExceptionRefused(f"you may not manage namespace {namespace!r}")
    if not may_manage(principal, accounts.rule_of(found)):
        raise ExceptionRefused(
            f"only the owners of namespace {namespace!r}'s team (and admins) may change its "
            "exceptions"
        )


async def add_as(
    session: AsyncSession,
    principal: Principal,
    vulnerability: str,
    *,
    namespace: str | None,
    reason: str,
    days: int,
    now: datetime,
) -> VulnerabilityException:
    """:func:`add` by ``principal``, who must be an admin (global) or may manage the
    namespace; ``created_by`` is its name (an admin token's is :data:`BY_ADMIN_TOKEN`)."""
    check(vulnerability, reason, days)
    await _check_manage(session, principal, namespace)
    by = principal.name or BY_ADMIN_TOKEN
    return await add(
        session, vulnerability, namespace=namespace, reason=reason, days=days, by=by, now=now
    )


async def remove_as(session: AsyncSession, principal: Principal, number: int) -> None:
    """:func:`remove` by ``principal`` (as :func:`add_as`); one it may not see is not found."""
    row = await get(session, number)
    if row is None or not await _visible(session, principal, row.namespace):
        raise ExceptionNotFound(f"no exception {number}")
    await _check_manage(session, principal, row.namespace)
    await remove(session, number)


async def _visible(session: AsyncSession, principal: Principal, namespace: str | None) -> bool:
    if namespace is None or principal.reads_everything:
        return True
    return may_read(principal, await accounts.namespace_rule(session, namespace))


async def listed_for(
    session: AsyncSession, principal: Principal, now: datetime, *, expired: bool = True
) -> list[VulnerabilityException]:
    """The exceptions ``principal`` may see: the global ones, and those of the namespaces it
    may read."""
    rows = await listed(session, now, expired=expired)
    seen: dict[str | None, bool] = {}
    for row in rows:
        if row.namespace not in seen:
            seen[row.namespace] = await _visible(session, principal, row.namespace)
    return [row for row in rows if seen[row.namespace]]
