"""The import's plan (pure): what Portus rows become, against what Portside has; a plan over
the state its own apply would leave changes nothing."""

from __future__ import annotations

import bcrypt

from portside.accounts.passwords import portus_token_matches
from portside.accounts.vocabulary import Role, Visibility
from portside.portus.plan import (
    Existing,
    MemberWant,
    NamespaceWant,
    Outcome,
    UserWant,
    plan,
)
from portside.portus.read import (
    PortusData,
    PortusMember,
    PortusNamespace,
    PortusTeam,
    PortusToken,
    PortusUser,
)

HASH = "$2a$10$" + "a" * 53


def user(id: int, name: str, namespace_id: int, **more: object) -> PortusUser:
    values: dict[str, object] = {
        "email": None,
        "password_hash": HASH,
        "admin": False,
        "enabled": True,
        "bot": False,
        "ldap_name": None,
        "display_name": None,
    }
    values.update(more)
    return PortusUser(id=id, name=name, namespace_id=namespace_id, **values)  # type: ignore[arg-type]


def data() -> PortusData:
    """portus (internal), ann and bob with personal namespaces; team Platform (ann owner,
    bob viewer) owning namespace platform; ann's token."""
    return PortusData(
        users=[user(1, "portus", 10), user(2, "ann", 11), user(3, "bob", 12)],
        teams=[
            PortusTeam(100, "portus", True, ""),
            PortusTeam(101, "ann", True, ""),
            PortusTeam(102, "bob", True, ""),
            PortusTeam(103, "Platform", False, "the team"),
        ],
        members=[
            PortusMember(101, 2, Role.OWNER),
            PortusMember(102, 3, Role.OWNER),
            PortusMember(103, 2, Role.OWNER),
            PortusMember(103, 3, Role.VIEWER),
        ],
        namespaces=[
            PortusNamespace(10, "portus", 100, False, Visibility.PRIVATE, ""),
            PortusNamespace(11, "ann", 101, False, Visibility.PUBLIC, ""),
            PortusNamespace(12, "bob", 102, False, Visibility.PRIVATE, ""),
            PortusNamespace(13, "platform", 103, False, Visibility.PRIVATE, "images"),
            PortusNamespace(14, "", None, True, Visibility.PUBLIC, ""),
        ],
        tokens=[PortusToken(1, 2, "cli", HASH, HASH[:29])],
    )


def outcomes(steps: list) -> dict[tuple[str, str], Outcome]:  # type: ignore[type-arg]
    return {(step.kind, step.key): step.outcome for step in steps}


def test_a_fresh_portside_gets_everything_but_portus_own() -> None:
    found = outcomes(plan(data(), Existing()).steps)
    assert found[("user", "portus")] is Outcome.SKIP
    assert found[("user", "ann")] is Outcome.CREATE
    assert found[("team", "ann")] is Outcome.SKIP  # personal: comes with the user
    assert found[("team", "Platform")] is Outcome.CREATE
    assert found[("member", "bob in Platform")] is Outcome.CREATE
    assert found[("namespace", "portus")] is Outcome.SKIP
    assert found[("namespace", "(global)")] is Outcome.SKIP
    assert found[("namespace", "platform")] is Outcome.CREATE
    # ann's personal namespace is made with her (private): made public as in Portus.
    assert found[("namespace", "ann")] is Outcome.UPDATE
    assert found[("namespace", "bob")] is Outcome.UNCHANGED
    assert found[("token", "ann: cli")] is Outcome.CREATE


def test_a_second_plan_over_the_result_changes_nothing() -> None:
    has = Existing(
        users={
            name: UserWant(name, None, False, True, False, None, None) for name in ("ann", "bob")
        },
        teams={"Platform": "the team"},
        members={
            ("Platform", "ann"): Role.OWNER,
            ("Platform", "bob"): Role.VIEWER,
        },
        namespaces={
            "ann": NamespaceWant("ann", "user:ann", Visibility.PUBLIC, ""),
            "bob": NamespaceWant("bob", "user:bob", Visibility.PRIVATE, ""),
            "platform": NamespaceWant("platform", "Platform", Visibility.PRIVATE, "images"),
        },
        token_hashes={HASH},
        token_names={("ann", "cli")},
    )
    done = plan(data(), has)
    assert not done.changes_anything
    assert done.complete


def test_changes_in_portus_are_updates_and_conflicts_are_reported() -> None:
    has = Existing(
        users={"ann": UserWant("ann", None, True, True, False, None, None)},
        members={("Platform", "bob"): Role.CONTRIBUTOR},
        token_names={("ann", "cli")},
    )
    done = plan(data(), has)
    steps = {(step.kind, step.key): step for step in done.steps}
    assert steps[("user", "ann")].outcome is Outcome.UPDATE
    assert steps[("user", "ann")].changes == ("admin",)
    assert steps[("member", "bob in Platform")].want == MemberWant("Platform", "bob", Role.VIEWER)
    assert steps[("member", "bob in Platform")].outcome is Outcome.UPDATE
    token = steps[("token", "ann: cli")]
    assert token.outcome is Outcome.REFUSE and "active token named 'cli'" in token.reason
    assert not done.complete


def test_a_team_without_an_owner_brought_is_not_brought_nor_its_namespaces() -> None:
    portus = data()
    portus.members = [m for m in portus.members if m.team_id != 103 or m.role is not Role.OWNER]
    steps = {(step.kind, step.key): step for step in plan(portus, Existing()).steps}
    assert steps[("team", "Platform")].outcome is Outcome.REFUSE
    assert steps[("namespace", "platform")].outcome is Outcome.REFUSE
    assert steps[("member", "bob in team #103")].outcome is Outcome.REFUSE
    assert steps[("user", "bob")].outcome is Outcome.CREATE


def test_a_portus_token_is_checked_with_its_own_salt() -> None:
    salt = bcrypt.gensalt(4, b"2a")
    stored = bcrypt.hashpw(b"portus-token", salt).decode()
    assert portus_token_matches("portus-token", salt.decode(), stored)
    assert not portus_token_matches("portus-tokeN", salt.decode(), stored)
    assert not portus_token_matches("portus-token", None, stored)
    assert not portus_token_matches("portus-token", "not a salt", stored)
