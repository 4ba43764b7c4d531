"""``/v2/token`` on SQLite and PostgreSQL, through a real server: the JWT is decoded with the
kept key's certificate and its claims checked for each kind of principal."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
import pytest

from portside.accounts import store
from portside.accounts.vocabulary import Role, Visibility
from portside.app import create_app
from portside.db.engine import Database
from portside.index import store as index_store
from portside.settings import Settings
from portside.tokenserver.keys import TokenKeys
from tests.integration.conftest import make_settings, serving

PASSWORD = "correct horse battery"
SERVICE = "127.0.0.1:5000"
NOW = datetime.now(UTC)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Server:
    base: str
    http: aiohttp.ClientSession
    db: Database
    settings: Settings
    pat: str  # ann's personal token

    async def token(
        self, *scopes: str, user: str | None = None, password: str = PASSWORD, **params: str
    ) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
        query = [("service", params.pop("service", SERVICE)), *(("scope", s) for s in scopes)]
        headers = {"Authorization": basic(user, password)} if user else {}
        async with self.http.get(f"{self.base}/v2/token", params=query, headers=headers) as resp:
            return resp.status, await resp.json(), resp.headers

    async def claims(self, token: str) -> dict[str, Any]:
        key = await TokenKeys(self.db, self.settings.auth.token).get()
        header = jwt.get_unverified_header(token)
        assert header["kid"] == key.kid and header["alg"] == "RS256"
        decoded: dict[str, Any] = jwt.decode(
            token,
            key.certificate.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256"],
            audience=SERVICE,
            issuer="portside",
        )
        return decoded

    async def access(
        self, *scopes: str, user: str | None = None, password: str = PASSWORD
    ) -> dict[str, list[str]]:
        status, body, _ = await self.token(*scopes, user=user, password=password)
        assert status == 200, body
        return {a["name"]: a["actions"] for a in (await self.claims(body["token"]))["access"]}


async def seed(db: Database) -> str:
    async with db.write() as session:
        registry_id = await index_store.ensure_registry(session, f"http://{SERVICE}", NOW)
        for name in ("ann", "bob", "carol"):
            await store.add_user(session, name, NOW, registry_id=registry_id, password=PASSWORD)
        await store.add_user(
            session, "root", NOW, registry_id=registry_id, password=PASSWORD, admin=True
        )
        await store.add_team(session, "Platform", "ann", NOW)
        await store.set_member(session, "Platform", "bob", Role.VIEWER, NOW)
        for name, visibility in (
            ("platform", Visibility.PRIVATE),
            ("shared", Visibility.PROTECTED),
            ("open", Visibility.PUBLIC),
        ):
            await store.add_namespace(
                session, name, "Platform", visibility, NOW, registry_id=registry_id
            )
        _, pat = await store.add_token(session, "ann", "laptop", NOW)
    return pat


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[Server]:
    settings = make_settings(
        database_url,
        registry={"url": f"http://{SERVICE}"},
        auth={"session": {"max_failures": 3}},
    )
    async with Database(database_url) as db:
        pat = await seed(db)
        async with (
            serving(create_app(settings), settings.server.port) as base,
            aiohttp.ClientSession() as http,
        ):
            yield Server(base, http, db, settings, pat)


EVERY = (
    "repository:platform/app:pull,push,delete",
    "repository:shared/app:pull,push",
    "repository:open/app:pull,push",
    "repository:new/app:pull,push",
    "registry:catalog:*",
)


async def test_each_principal_gets_what_it_may(server: Server) -> None:
    status, body, headers = await server.token(*EVERY)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00"))
    claim_set = await server.claims(body["token"])
    assert claim_set["sub"] == "" and claim_set["exp"] - claim_set["iat"] == 300
    assert claim_set["access"] == [{"type": "repository", "name": "open/app", "actions": ["pull"]}]
    assert await server.access(*EVERY, user="carol") == {
        "shared/app": ["pull"],
        "open/app": ["pull"],
    }
    assert await server.access(*EVERY, user="bob") == {
        "platform/app": ["pull"],
        "shared/app": ["pull"],
        "open/app": ["pull"],
    }
    # ann owns the team: push and delete in its namespaces, nothing in an unknown one.
    assert await server.access(*EVERY, user="ann") == {
        "platform/app": ["pull", "push", "delete"],
        "shared/app": ["pull", "push"],
        "open/app": ["pull", "push"],
    }
    assert await server.access("repository:ann/tool:pull,push", user="ann") == {
        "ann/tool": ["pull", "push"]
    }
    root = await server.access(*EVERY, user="root")
    assert root["catalog"] == ["*"] and root["new/app"] == ["pull", "push"]


async def test_personal_tokens_revocation_and_disabled_users(server: Server) -> None:
    scope = "repository:platform/app:pull,push"
    assert await server.access(scope, user="ann", password=server.pat) == {
        "platform/app": ["pull", "push"]
    }
    async with server.db.write() as session:
        await store.revoke_token(session, "ann", "laptop", NOW)
    status, body, headers = await server.token(scope, user="ann", password=server.pat)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic realm=")
    assert body["errors"][0]["code"] == "UNAUTHORIZED"
    assert await server.access(scope, user="bob") == {"platform/app": ["pull"]}
    async with server.db.write() as session:
        await store.set_enabled(session, "bob", False, NOW)
    status, _, _ = await server.token(scope, user="bob")
    assert status == 401


async def test_wrong_passwords_are_throttled(server: Server) -> None:
    for _ in range(3):
        status, _, _ = await server.token(user="ann", password="wrong password")
        assert status == 401
    status, body, headers = await server.token(user="ann")  # the right one, too late
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert body["errors"][0]["code"] == "TOOMANYREQUESTS"
    # The address is throttled as well: another user from here waits too.
    status, _, _ = await server.token(user="carol")
    assert status == 429
    # Anonymous requests need no login and are not throttled.
    status, _, _ = await server.token("repository:open/app:pull")
    assert status == 200


async def test_bad_requests(server: Server) -> None:
    status, body, _ = await server.token(service="other:5000")
    assert status == 400 and "auth.token.service" in body["errors"][0]["message"]
    status, body, _ = await server.token(*["repository:open/app:pull"] * 33)
    assert status == 400
    for header in ("Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):
        async with server.http.get(
            f"{server.base}/v2/token",
            params={"service": SERVICE},
            headers={"Authorization": header},
        ) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Basic")
    # Scopes that are not ones are left out; the token is still issued.
    assert await server.access("repository:../x:pull", "nonsense", "repository:open/app:pull") == {
        "open/app": ["pull"]
    }


async def test_any_host_name_reaches_the_token_server(server: Server) -> None:
    # Reads are open on this loopback bind, so the pages answer loopback names only (DNS
    # rebinding); registry clients reach /v2/token by the realm's name, whatever it is.
    headers = {"Host": "registry-clients.example"}
    async with server.http.get(f"{server.base}/api/v1/status", headers=headers) as resp:
        assert resp.status == 421
    async with server.http.get(
        f"{server.base}/v2/token", params={"service": SERVICE}, headers=headers
    ) as resp:
        assert resp.status == 200


async def test_the_oauth2_form(server: Server) -> None:
    form = {
        "grant_type": "password",
        "service": SERVICE,
        "client_id": "skopeo",
        "scope": "repository:platform/app:pull repository:open/app:pull",
        "username": "bob",
        "password": PASSWORD,
    }
    async with server.http.post(f"{server.base}/v2/token", data=form) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["scope"] == form["scope"]
    claim_set = await server.claims(body["access_token"])
    assert claim_set["sub"] == "bob"
    assert [a["name"] for a in claim_set["access"]] == ["platform/app", "open/app"]
    async with server.http.post(
        f"{server.base}/v2/token", data={**form, "password": "wrong password"}
    ) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "invalid_grant"
    async with server.http.post(
        f"{server.base}/v2/token", data={"grant_type": "refresh_token", "refresh_token": "x"}
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "unsupported_grant_type"
    async with server.http.post(f"{server.base}/v2/token", json=form) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_request"
