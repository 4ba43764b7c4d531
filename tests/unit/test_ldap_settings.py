"""``auth.ldap``: every wrong value refused at start with a message naming it; and the pure
parts of LDAP logins (filter escaping, the group -> team roles, which logins the directory
checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portside.accounts.ldap import escape_filter_value, group_filter, user_filter
from portside.accounts.logins import goes_to_directory, mapped_teams, wanted_roles
from portside.accounts.vocabulary import Role
from portside.db.models import User
from portside.errors import ConfigError
from portside.settings import LdapGroupSettings, LdapSettings, load_settings

BASE: dict[str, Any] = {"url": "ldap://ldap.example.org", "user_base": "ou=people,dc=example"}


def settings(**values: Any) -> LdapSettings:
    loaded = load_settings(None, auth={"ldap": {**BASE, **values}}).auth.ldap
    assert loaded is not None
    return loaded


def test_defaults_and_no_ldap() -> None:
    assert load_settings(None).auth.ldap is None
    ldap = settings()
    assert ldap.user_filter == "(uid={username})" and ldap.uid_attribute == "uid"
    assert ldap.group_filter == "(member={dn})" and ldap.timeout == 10


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"url": "http://ldap.example.org"}, "auth.ldap.url: Value error, must be ldap://"),
        ({"url": "ldap://"}, "must be ldap://host"),
        ({"url": "ldap://host/dc=x?uid"}, "must be ldap://host"),
        ({"url": "ldaps://host", "start_tls": True}, "start_tls is for ldap:// URLs"),
        ({"bind_dn": "cn=portside"}, "bind_dn and bind_password go together"),
        ({"bind_password": "secret"}, "bind_dn and bind_password go together"),
        ({"user_filter": "uid={username}"}, "user_filter must be an LDAP filter in parentheses"),
        ({"user_filter": "(uid=alice)"}, "user_filter must contain {username}"),
        ({"user_filter": "(&(uid={username})"}, "unbalanced parentheses"),
        ({"group_base": "ou=g", "group_filter": "(member=x)"}, "group_filter must contain"),
        ({"groups": {"devs": {"team": "Developers"}}}, "groups and admin_group need group_base"),
        ({"admin_group": "admins"}, "groups and admin_group need group_base"),
        (
            {"group_base": "ou=g", "groups": {"devs": {"team": "user:alice"}}},
            "is not a team name",
        ),
        (
            {"group_base": "ou=g", "groups": {"devs": {"team": "Dev", "role": "admin"}}},
            "must be one of viewer, contributor, owner",
        ),
        ({"uid_attribute": "uid)(x"}, "is not an LDAP attribute name"),
        ({"timeout": 0}, "auth.ldap.timeout"),
        ({"ca_file": "/nonexistent/ca.pem"}, "is not a file"),
        ({"user_base": ""}, "auth.ldap.user_base"),
        ({"surprise": 1}, "auth.ldap.surprise: unknown setting"),
    ],
)
def test_wrong_values_are_refused_with_their_key(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**values)
    assert message in str(caught.value)


def test_the_bind_password_is_never_shown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(bind_password="hunter2-secret")
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(settings(bind_dn="cn=p", bind_password="hunter2-secret"))


def test_filter_values_are_escaped_per_rfc_4515() -> None:
    assert escape_filter_value("a*b(c)d\\e\x00") == "a\\2ab\\28c\\29d\\5ce\\00"
    ldap = settings(
        user_filter="(&(objectClass=person)(uid={username}))",
        group_base="ou=g",
        group_filter="(|(member={dn})(memberUid={username}))",
    )
    assert user_filter(ldap, "*)(uid=*") == "(&(objectClass=person)(uid=\\2a\\29\\28uid=\\2a))"
    assert group_filter(ldap, "uid=a(b),dc=x", "a*") == (
        "(|(member=uid=a\\28b\\29,dc=x)(memberUid=a\\2a))"
    )


def test_the_highest_mapped_role_wins_and_unmapped_groups_give_nothing() -> None:
    mapping = {
        "devs": LdapGroupSettings(team="Developers", role="viewer"),
        "leads": LdapGroupSettings(team="Developers", role="owner"),
        "ops": LdapGroupSettings(team="Operations", role="contributor"),
    }
    assert wanted_roles(frozenset({"devs", "leads", "other"}), mapping) == {
        "Developers": Role.OWNER
    }
    assert wanted_roles(frozenset({"ops", "devs"}), mapping) == {
        "Developers": Role.VIEWER,
        "Operations": Role.CONTRIBUTOR,
    }
    assert wanted_roles(frozenset(), mapping) == {}
    assert mapped_teams(mapping) == {"Developers", "Operations"}


def test_which_logins_the_directory_checks() -> None:
    ldap = settings()
    local = User(name="root", password_hash="x", ldap_name=None, bot=False)
    from_directory = User(name="alice", password_hash=None, ldap_name="uid=alice", bot=False)
    assert goes_to_directory(None, "password", ldap)  # unknown: maybe a first login
    assert goes_to_directory(from_directory, "password", ldap)
    assert not goes_to_directory(local, "password", ldap)  # local first, never taken over
    assert not goes_to_directory(from_directory, "pst_token", ldap)  # tokens are local
    assert not goes_to_directory(None, "password", None)  # no auth.ldap
