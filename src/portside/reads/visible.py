"""What a principal may see, as SQL conditions the read model adds to its queries.

A repository is seen through its namespace (``Repository.namespace_id`` in the namespaces the
principal may read: a semi-join, so the lists keep their key order's index); a tag through its
repository; an activity through the namespace it names (an activity about no repository:
only a principal who reads everything). The rule itself is
:func:`portside.accounts.store.readable_namespace_ids`, which mirrors the pure
:func:`portside.accounts.policy.may_read`. ``None``: no condition, the principal reads
everything.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, exists, select

from portside.accounts import store as accounts
from portside.accounts.policy import Principal
from portside.db.models import Activity, Repository, ScanTarget, Tag

Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


def repositories(principal: Principal) -> ColumnElement[bool] | None:
    """The repositories the principal may see."""
    ids = accounts.readable_namespace_ids(principal)
    return None if ids is None else Repository.namespace_id.in_(ids)


def repository_ids(principal: Principal) -> Select[Any] | None:
    """The ids of the repositories the principal may see (for ``Tag.repository_id.in_``)."""
    condition = repositories(principal)
    return None if condition is None else select(Repository.id).where(condition)


def activities(principal: Principal) -> ColumnElement[bool] | None:
    """The activities the principal may see (``NULL IN (...)`` is not true: an activity
    about no repository is left out)."""
    names = accounts.readable_namespace_names(principal)
    return None if names is None else Activity.namespace.in_(names)


def digests(principal: Principal) -> ColumnElement[bool] | None:
    """The scan targets some tag the principal may see points at."""
    ids = repository_ids(principal)
    if ids is None:
        return None
    return exists().where(Tag.digest == ScanTarget.digest, Tag.repository_id.in_(ids))


def only(query: Q, condition: ColumnElement[bool] | None) -> Q:
    """``query`` with ``condition`` when there is one."""
    return query if condition is None else query.where(condition)


def cache_key(principal: Principal) -> tuple[bool, tuple[int, ...]] | None:
    """What the principal's view depends on (logged in or not, its teams), to share cached
    counts between principals who see the same; None: it reads everything."""
    if principal.reads_everything:
        return None
    return (principal.authenticated, tuple(sorted(principal.roles)))
