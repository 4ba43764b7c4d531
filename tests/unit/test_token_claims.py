"""The token server's pure parts: scopes, the access a principal gets, the claims, the
libtrust key id, the throttle's decision and the registry config fragment."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from portside.accounts import throttle
from portside.accounts.policy import ANONYMOUS, EVERYONE, SERVICE, NamespaceRule, Principal
from portside.accounts.vocabulary import Role, Visibility
from portside.registry.config import render, token_auth
from portside.settings import SessionSettings, SigningAlgorithm, load_settings
from portside.tokenserver import claims
from portside.tokenserver.claims import Scope, ScopeError, parse_scope, parse_scopes
from portside.tokenserver.keys import generate, libtrust_kid, load

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TEAM = 7
RULES = {
    "pub": NamespaceRule("pub", Visibility.PUBLIC, TEAM),
    "prot": NamespaceRule("prot", Visibility.PROTECTED, TEAM),
    "priv": NamespaceRule("priv", Visibility.PRIVATE, TEAM),
    "": NamespaceRule("", Visibility.PUBLIC, None),
}


def user(role: Role | None = None) -> Principal:
    return Principal(name="ann", user_id=1, roles={TEAM: role} if role else {})


def test_a_scope_is_parsed() -> None:
    assert parse_scope("repository:team/app:pull,push") == Scope(
        "repository", "team/app", ("pull", "push")
    )
    assert parse_scope("repository(plugin):team/app:pull") == Scope(
        "repository", "team/app", ("pull",), "plugin"
    )
    assert parse_scope("registry:catalog:*") == Scope("registry", "catalog", ("*",))
    # Unknown actions are dropped; the same action twice counts once.
    assert parse_scope("repository:app:pull,fly,pull") == Scope("repository", "app", ("pull",))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "repository",
        "repository:app",
        "repository::pull",
        "repository:App:pull",  # names are the distribution grammar's
        "repository:../etc:pull",
        "repository:app:fly",  # no known action
        "registry:other:*",
        "registry(x):catalog:*",
        "Repository:app:pull",
        "image:app:pull",
        "repository:" + "a" * 700 + ":pull",
    ],
)
def test_a_scope_that_is_not_one_is_left_out(text: str) -> None:
    assert parse_scope(text) is None


def test_scopes_are_split_merged_and_bounded() -> None:
    scopes = parse_scopes(["repository:app:pull repository:app:push", "nonsense"])
    assert scopes == [Scope("repository", "app", ("pull", "push"))]
    with pytest.raises(ScopeError):
        parse_scopes(["repository:app:pull"] * (claims.MAX_SCOPES + 1))


def _granted(principal: Principal, *texts: str) -> dict[str, list[str]]:
    found = claims.access(principal, parse_scopes(texts), RULES)
    return {entry["name"]: entry["actions"] for entry in found}


def test_what_each_principal_gets() -> None:
    every = ("repository:pub/a:pull,push", "repository:prot/a:pull", "repository:priv/a:*")
    assert _granted(ANONYMOUS, *every) == {"pub/a": ["pull"]}
    # Trusted anonymous readers see every page, but the registry grants them nothing more.
    assert _granted(EVERYONE, *every) == {"pub/a": ["pull"]}
    assert _granted(user(), *every) == {"pub/a": ["pull"], "prot/a": ["pull"]}
    assert _granted(user(Role.VIEWER), *every) == {
        "pub/a": ["pull"],
        "prot/a": ["pull"],
        "priv/a": ["pull"],
    }
    assert _granted(user(Role.CONTRIBUTOR), *every) == {
        "pub/a": ["pull", "push"],
        "prot/a": ["pull"],
        "priv/a": ["pull", "push"],
    }
    assert _granted(user(Role.OWNER), "repository:priv/a:*")["priv/a"] == [
        "pull",
        "push",
        "delete",
    ]
    # An unknown namespace is the admins'; the global one is public.
    assert _granted(user(Role.OWNER), "repository:new/a:pull,push") == {}
    assert _granted(ANONYMOUS, "repository:alpine:pull,push") == {"alpine": ["pull"]}
    assert _granted(SERVICE, "repository:new/a:pull,push") == {"new/a": ["pull", "push"]}


def test_the_catalog_is_for_admins_only() -> None:
    assert claims.access(user(Role.OWNER), parse_scopes(["registry:catalog:*"]), RULES) == []
    admin = Principal(name="root", user_id=2, admin=True)
    assert claims.access(admin, parse_scopes(["registry:catalog:*"]), RULES) == [
        {"type": "registry", "name": "catalog", "actions": ["*"]}
    ]


def test_a_plugin_scope_keeps_its_class() -> None:
    (entry,) = claims.access(
        user(Role.VIEWER), parse_scopes(["repository(plugin):priv/p:pull"]), RULES
    )
    assert entry == {"type": "repository", "class": "plugin", "name": "priv/p", "actions": ["pull"]}


def test_claims() -> None:
    granted = [{"type": "repository", "name": "a", "actions": ["pull"]}]
    claim_set = claims.claims(
        issuer="portside",
        subject="ann",
        audience="reg:5000",
        granted=granted,
        now=NOW,
        lifetime=300,
    )
    stamp = int(NOW.timestamp())
    assert claim_set["iss"] == "portside" and claim_set["sub"] == "ann"
    assert claim_set["aud"] == "reg:5000"  # a string: the registry reads one
    assert (claim_set["iat"], claim_set["nbf"], claim_set["exp"]) == (stamp, stamp, stamp + 300)
    assert claim_set["access"] == granted
    assert re.fullmatch(r"[0-9a-f]{32}", claim_set["jti"])
    again = claims.claims(
        issuer="portside",
        subject="ann",
        audience="reg:5000",
        granted=granted,
        now=NOW,
        lifetime=300,
    )
    assert again["jti"] != claim_set["jti"]


def test_service_and_public_url_defaults() -> None:
    settings = load_settings(None, registry={"url": "https://registry.example"})
    assert claims.service_name(settings) == "registry.example:443"
    settings = load_settings(None, registry={"url": "http://127.0.0.1:5000"})
    assert claims.service_name(settings) == "127.0.0.1:5000"
    assert claims.service_name(load_settings(None)) is None
    named = load_settings(None, auth={"token": {"service": "my-registry"}})
    assert claims.service_name(named) == "my-registry"
    assert claims.public_url(load_settings(None, server={"port": 9000})) == "http://127.0.0.1:9000"
    public = load_settings(None, auth={"public_url": "https://portside.example/"})
    assert claims.public_url(public) == "https://portside.example"


@pytest.mark.parametrize("algorithm", list(SigningAlgorithm))
def test_the_kept_key_signs_verifiable_tokens_with_its_libtrust_kid(
    algorithm: SigningAlgorithm,
) -> None:
    key = load(generate(algorithm, "portside", NOW), algorithm)
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", key.kid)
    token = key.sign({"sub": "ann", "aud": "reg", "exp": int(NOW.timestamp()) + 300})
    header = jwt.get_unverified_header(token)
    assert header["kid"] == key.kid and header["alg"] == algorithm.value
    decoded = jwt.decode(
        token,
        key.public_key,  # type: ignore[arg-type]
        algorithms=[algorithm.value],
        audience="reg",
        options={"verify_exp": False},
    )
    assert decoded["sub"] == "ann"
    assert key.certificate.not_valid_after_utc > NOW + timedelta(days=365 * 5)


def test_libtrust_kid_is_base32_of_the_first_240_bits_of_the_der_key_hash() -> None:
    # libtrust: keyIDEncode(sha256(DER SubjectPublicKeyInfo)[:30]) in 4-character groups.
    import hashlib

    key = load(generate(SigningAlgorithm.ES256, "x", NOW), SigningAlgorithm.ES256)
    der = key.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    assert libtrust_kid(key.public_key).replace(":", "") == expected
    assert len(libtrust_kid(key.public_key).split(":")) == 12


def test_throttle_keys() -> None:
    """The token server throttles by address and user, as the login page does (the
    decisions themselves: test_login_edges.py)."""
    assert throttle.keys("ann", "10.0.0.1") == ["addr:10.0.0.1", "user:ann"]
    assert throttle.keys(None, None) == ["addr:unknown"]
    assert throttle.Limits.of(SessionSettings(max_failures=3)).max_failures == 3


def test_registry_config_with_auth() -> None:
    auth = token_auth(
        realm="http://p:8080/v2/token", service="r:5000", issuer="portside", rootcertbundle="/c"
    )
    snippet = yaml.safe_load(render("http://p:8080", "s3cret", auth))
    assert snippet["auth"] == {
        "token": {
            "realm": "http://p:8080/v2/token",
            "service": "r:5000",
            "issuer": "portside",
            "rootcertbundle": "/c",
        }
    }
    assert snippet["notifications"]["endpoints"][0]["url"] == "http://p:8080/v2/webhooks/events"
    assert "auth" not in yaml.safe_load(render("http://p:8080", "s3cret"))
