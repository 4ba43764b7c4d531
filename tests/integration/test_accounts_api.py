"""The accounts' JSON API on a real server, on SQLite and PostgreSQL: admins manage users,
teams, members, namespaces and tokens; a user sees itself, its own tokens and teams, and
only the namespaces it may read. (Users' own changes with a body wait for the admission
middleware to let their tokens through: here those go by the admin token.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from portside.app import create_app
from tests.integration.conftest import make_settings, serving

ADMIN = "admin-s3cret"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
PASSWORD = "correct horse battery"


class Api:
    def __init__(self, base: str, http: aiohttp.ClientSession):
        self.base = base
        self.http = http

    async def call(
        self, method: str, path: str, *, token: str | None = ADMIN, json: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(
            method, f"{self.base}/api/v1{path}", headers=headers, json=json
        ) as resp:
            body = await resp.json() if resp.status != 204 else None
            return resp.status, body


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    settings = make_settings(
        database_url, api={"admin_tokens": [ADMIN]}, registry={"url": "http://127.0.0.1:5000"}
    )
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        yield Api(base, http)


async def test_admins_manage_users(api: Api) -> None:
    status, ann = await api.call("POST", "/users", json={"name": "ann", "password": PASSWORD})
    assert status == 201
    assert ann["name"] == "ann" and ann["has_password"] and not ann["admin"]
    assert (await api.call("POST", "/users", json={"name": "ci", "bot": True}))[0] == 201
    status, body = await api.call("POST", "/users", json={"name": "ann"})
    assert (status, body["error"]["code"]) == (409, "conflict")
    status, body = await api.call("POST", "/users", json={"name": "Not/Valid"})
    assert (status, body["error"]["code"]) == (422, "invalid_account")
    status, body = await api.call(
        "POST", "/users", json={"name": "ci2", "bot": True, "password": PASSWORD}
    )
    assert (status, body["error"]["code"]) == (422, "invalid_account")
    status, body = await api.call("POST", "/users", json={"name": "eve", "password": "short"})
    assert status == 422 and "at least 8" in body["error"]["message"]

    # JSON may carry a lone surrogate, which no hash or database takes: refused (pydantic), not a 500.
    status, body = await api.call("POST", "/users", json={"name": "eve", "password": "\ud800" * 9})
    assert (status, body["error"]["code"]) == (422, "invalid_request")

    status, users = await api.call("GET", "/users")
    assert status == 200
    assert [(u["name"], u["bot"]) for u in users] == [("ann", False), ("ci", True)]
    assert not any("hash" in key or key == "password" for u in users for key in u)

    status, ann = await api.call("PATCH", "/users/ann", json={"admin": True, "enabled": False})
    assert status == 200 and ann["admin"] and not ann["enabled"]
    status, body = await api.call("PATCH", "/users/ci", json={"password": PASSWORD})
    assert status == 422  # a bot has no password
    status, body = await api.call("PATCH", "/users/nobody", json={"enabled": True})
    assert (status, body["error"]["code"]) == (404, "not_found")
    # Users are the admins' business.
    assert (await api.call("GET", "/users", token=None))[0] == 401


async def test_teams_members_and_namespaces(api: Api) -> None:
    for name in ("ann", "bob", "cy"):
        assert (await api.call("POST", "/users", json={"name": name}))[0] == 201
    status, team = await api.call("POST", "/teams", json={"name": "Platform", "owner": "ann"})
    assert status == 201
    assert team["members"] == [{"user": "ann", "role": "owner"}]
    status, member = await api.call("PUT", "/teams/Platform/members/bob", json={"role": "viewer"})
    assert (status, member) == (200, {"user": "bob", "role": "viewer"})
    status, body = await api.call("PUT", "/teams/Platform/members/bob", json={"role": "boss"})
    assert status == 422
    status, body = await api.call("PUT", "/teams/Platform/members/ann", json={"role": "viewer"})
    assert (status, body["error"]["code"]) == (409, "conflict")  # the last owner
    assert (await api.call("GET", "/teams/Platform/members/bob"))[1]["role"] == "viewer"
    assert (await api.call("GET", "/teams/Platform/members/cy"))[0] == 404
    assert (await api.call("GET", "/teams/Nope/members"))[0] == 404
    assert (await api.call("PUT", "/teams/Platform/members/cy", json={"role": "owner"}))[0] == 200
    assert (await api.call("DELETE", "/teams/Platform/members/cy"))[0] == 204
    status, members = await api.call("GET", "/teams/Platform/members")
    assert members == [{"user": "ann", "role": "owner"}, {"user": "bob", "role": "viewer"}]

    for name, visibility in (("platform", "private"), ("shared", "protected"), ("open", "public")):
        status, namespace = await api.call(
            "POST", "/namespaces", json={"name": name, "team": "Platform", "visibility": visibility}
        )
        assert status == 201, namespace
        assert namespace["team"] == "Platform" and not namespace["personal"]
    status, body = await api.call(
        "POST", "/namespaces", json={"name": "platform", "team": "Platform", "visibility": "public"}
    )
    assert status == 409
    status, namespace = await api.call(
        "PATCH",
        "/namespaces/platform",
        json={"description": "base images", "visibility": "protected"},
    )
    assert status == 200
    assert (namespace["visibility"], namespace["description"]) == ("protected", "base images")
    status, body = await api.call("PATCH", "/namespaces/platform", json={"description": "a\x1b[2J"})
    assert status == 422
    assert (await api.call("PATCH", "/namespaces/nowhere", json={"visibility": "public"}))[0] == 404

    status, listed = await api.call("GET", "/namespaces")
    assert {(n["name"], n["team"], n["personal"]) for n in listed} >= {
        ("ann", "user:ann", True),
        ("platform", "Platform", False),
    }


async def test_a_user_sees_itself_its_tokens_and_what_it_may_read(api: Api) -> None:
    for name in ("ann", "bob", "cy"):
        assert (await api.call("POST", "/users", json={"name": name, "password": PASSWORD}))[
            0
        ] == 201
    await api.call("POST", "/teams", json={"name": "Platform", "owner": "ann"})
    await api.call("PUT", "/teams/Platform/members/bob", json={"role": "viewer"})
    for name, visibility in (("platform", "private"), ("shared", "protected"), ("open", "public")):
        await api.call(
            "POST", "/namespaces", json={"name": name, "team": "Platform", "visibility": visibility}
        )
    tokens = {}
    for name in ("bob", "cy"):
        status, made = await api.call("POST", f"/users/{name}/tokens", json={"name": "laptop"})
        assert status == 201
        assert made["token"].startswith("pst_") and made["state"] == "active"
        tokens[name] = made["token"]
    bob, cy = tokens["bob"], tokens["cy"]

    status, me = await api.call("GET", "/me", token=bob)
    assert (status, me) == (
        200,
        {
            "name": "bob",
            "authenticated": True,
            "admin": False,
            "teams": [{"team": "Platform", "role": "viewer"}],
        },
    )
    status, me = await api.call("GET", "/me", token=ADMIN)
    assert (me["name"], me["admin"]) == (None, True)
    status, me = await api.call("GET", "/me", token=None)  # anonymous (on loopback)
    assert (status, me["authenticated"], me["name"]) == (200, False, None)

    # The namespaces each may see: bob's team's private one, cy only protected and public.
    visible = {n["name"] for n in (await api.call("GET", "/namespaces", token=bob))[1]}
    assert {"platform", "shared", "open", "bob"} <= visible and "cy" not in visible
    visible = {n["name"] for n in (await api.call("GET", "/namespaces", token=cy))[1]}
    assert "platform" not in visible and {"shared", "open", "cy"} <= visible

    # Teams: one's own; another team's members are not shown.
    assert [t["name"] for t in (await api.call("GET", "/teams", token=bob))[1]] == ["Platform"]
    assert (await api.call("GET", "/teams", token=cy))[1] == []
    status, body = await api.call("GET", "/teams/Platform/members", token=cy)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert (await api.call("GET", "/teams/Nope/members", token=cy))[0] == 403  # not told
    assert (await api.call("GET", "/users", token=cy))[0] == 403  # known, but no admin

    # Tokens: one's own, never another's; never the token or its hash in a list.
    status, listed = await api.call("GET", "/users/bob/tokens", token=bob)
    assert status == 200
    assert [(t["name"], t["state"]) for t in listed] == [("laptop", "active")]
    assert listed[0]["last_used_at"] is not None  # the calls above noted its use
    assert not any("token" in key or "hash" in key for t in listed for key in t)
    assert (await api.call("GET", "/users/bob/tokens", token=cy))[0] == 403
    assert (await api.call("GET", "/users/bob/tokens", token=None))[0] == 401
    status, body = await api.call(
        "POST", "/users/bob/tokens", json={"name": "ci", "expires_days": 0}
    )
    assert status == 422
    assert (await api.call("DELETE", "/users/bob/tokens/nope"))[0] == 404
    assert (await api.call("DELETE", "/users/bob/tokens/laptop"))[0] == 204
    status, body = await api.call("GET", "/me", token=bob)  # revoked: stops working at once
    assert status == 401
    status, listed = await api.call("GET", "/users/bob/tokens")
    assert [t["state"] for t in listed] == ["revoked"]
