"""The access decisions (pure): visibility and team roles, Portus's model."""

from __future__ import annotations

import pytest

from portside.accounts.policy import (
    ANONYMOUS,
    EVERYONE,
    SERVICE,
    NamespaceRule,
    Principal,
    allowed_actions,
    grant,
    may_manage,
    may_read,
    may_use_catalog,
)
from portside.accounts.vocabulary import Role, Visibility

TEAM = 7
PUBLIC = NamespaceRule("pub", Visibility.PUBLIC, TEAM)
PROTECTED = NamespaceRule("prot", Visibility.PROTECTED, TEAM)
PRIVATE = NamespaceRule("priv", Visibility.PRIVATE, TEAM)
ADMINS_OWN = NamespaceRule("created-on-push", Visibility.PRIVATE, None)


def member(role: Role) -> Principal:
    return Principal(name="ann", user_id=1, roles={TEAM: role})


OUTSIDER = Principal(name="bob", user_id=2, roles={99: Role.OWNER})


@pytest.mark.parametrize(
    ("principal", "rule", "expected"),
    [
        (ANONYMOUS, PUBLIC, True),
        (ANONYMOUS, PROTECTED, False),
        (ANONYMOUS, PRIVATE, False),
        (OUTSIDER, PROTECTED, True),
        (OUTSIDER, PRIVATE, False),
        (member(Role.VIEWER), PRIVATE, True),
        (OUTSIDER, None, False),
        (OUTSIDER, ADMINS_OWN, False),
        (Principal(name="root", admin=True), ADMINS_OWN, True),
        (EVERYONE, PRIVATE, True),
    ],
)
def test_who_may_read(principal: Principal, rule: NamespaceRule | None, expected: bool) -> None:
    assert may_read(principal, rule) is expected


def test_roles_grant_pull_push_delete() -> None:
    assert grant(member(Role.VIEWER), PRIVATE, ["pull", "push"]) == ["pull"]
    assert grant(member(Role.CONTRIBUTOR), PRIVATE, ["pull", "push", "delete"]) == ["pull", "push"]
    assert grant(member(Role.OWNER), PRIVATE, ["*"]) == ["pull", "push", "delete"]
    assert grant(OUTSIDER, PRIVATE, ["pull"]) == []
    assert grant(OUTSIDER, PUBLIC, ["pull", "push"]) == ["pull"]
    assert grant(ANONYMOUS, PROTECTED, ["pull"]) == []
    assert grant(SERVICE, None, ["pull", "push", "delete"]) == ["pull", "push", "delete"]
    assert grant(member(Role.OWNER), PRIVATE, ["bogus"]) == []


def test_trusted_anonymous_reads_grant_nothing_at_the_registry() -> None:
    """``sees_all`` opens the pages on a trusted bind, never the registry."""
    assert allowed_actions(EVERYONE, PRIVATE) == frozenset()


def test_managing_and_the_catalog() -> None:
    assert may_manage(member(Role.OWNER), PRIVATE)
    assert not may_manage(member(Role.CONTRIBUTOR), PRIVATE)
    assert may_use_catalog(SERVICE)
    assert not may_use_catalog(member(Role.OWNER))
