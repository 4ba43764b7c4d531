"""The CVE allowlist on both databases: who may add and remove exceptions (API and CLI), and
their effect on the hub, the tag's verdict and vulnerabilities, and the gate (in this process
and with --server); an expired exception stops applying at once.

The images are pushed to the real registry and scanned by the real scan task, against the real
OSV records in ../shared/realosv/osv (the hub's test set-up, :mod:`tests.integration.test_vuln_hub`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from portside import apiclient
from portside.accounts import store as accounts
from portside.accounts.vocabulary import Visibility
from portside.app import create_app
from portside.cli import app as cli_app
from portside.db.engine import Database
from portside.db.models import VulnerabilityException
from portside.index import store
from portside.security.scanning.cli import scan_command
from portside.security.scanning.rematch import rematch
from portside.security.scanning.render import finish
from portside.security.severity import ORDER
from portside.settings import Settings
from tests.integration.conftest import make_settings, serving
from tests.integration.test_vuln_hub import (  # noqa: F401 (the hub fixture)
    MINIMIST,
    RECORDS,
    SEMVER,
    Hub,
    hub,
    import_real,
    scan_all,
    set_up_accounts,
)

ADMIN = "admin-s3cret"


@dataclass
class Served:
    base: str
    settings: Settings
    call: Callable[..., Any]


@pytest.fixture
async def served(hub: Hub, database_url: str, tmp_path: Path) -> AsyncIterator[Served]:  # noqa: F811
    await scan_all(hub)
    await rematch(hub.db, datetime.now(UTC), await import_real(hub.db, tmp_path, RECORDS))
    tokens = await set_up_accounts(hub.db, hub.registry_url)
    async with hub.db.write() as session:  # red-owner owns team red (namespace red): a token
        _, tokens["red-owner"] = await accounts.add_token(
            session, "red-owner", "allow", datetime.now(UTC)
        )
    settings = make_settings(
        database_url, api={"admin_tokens": [ADMIN]}, registry={"url": hub.registry_url}
    )
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):

        async def call(
            method: str, path: str, who: str = ADMIN, body: Any = None, **params: Any
        ) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {tokens.get(who, who)}"}
            async with http.request(
                method, f"{base}{path}", params=params, json=body, headers=headers
            ) as resp:
                if resp.status == 204:
                    return 204, None
                if resp.content_type == "text/html":
                    return resp.status, await resp.text()
                return resp.status, await resp.json()

        yield Served(base, settings, call)


def allow(vulnerability: str, namespace: str | None, days: int = 30) -> dict[str, Any]:
    return {
        "vulnerability": vulnerability,
        "namespace": namespace,
        "reason": f"{vulnerability}: not reachable here",
        "expires_in_days": days,
    }


async def test_who_may_add_and_remove_exceptions(served: Served) -> None:
    call = served.call
    # A namespace's exceptions: its team's owners (and admins); a viewer may not.
    status, body = await call("POST", "/api/v1/exceptions", "alice", allow(SEMVER, "red"))
    assert status == 403, body
    status, owned = await call("POST", "/api/v1/exceptions", "red-owner", allow(SEMVER, "red"))
    assert status == 201, owned
    assert owned["created_by"] == "red-owner" and owned["namespace"] == "red"
    assert owned["expired"] is False
    status, body = await call("POST", "/api/v1/exceptions", "red-owner", allow(SEMVER, "blue"))
    assert status == 403, body
    # Global ones: admins only.
    status, body = await call("POST", "/api/v1/exceptions", "red-owner", allow(SEMVER, None))
    assert status == 403, body
    status, top = await call("POST", "/api/v1/exceptions", ADMIN, allow(MINIMIST, None))
    assert status == 201 and top["created_by"] == "admin-token"
    # Values are checked: an unknown namespace, no reason, an expiry past a year, no login.
    status, body = await call("POST", "/api/v1/exceptions", ADMIN, allow(SEMVER, "nope"))
    assert status == 404, body
    status, _ = await call(
        "POST", "/api/v1/exceptions", ADMIN, {**allow(SEMVER, None), "reason": ""}
    )
    assert status == 422
    status, _ = await call("POST", "/api/v1/exceptions", ADMIN, allow(SEMVER, None, days=400))
    assert status == 422
    status, _ = await call("POST", "/api/v1/exceptions", "wrong", allow(SEMVER, None))
    assert status == 401

    # Each sees the global ones and those of the namespaces it may read.
    _, listed = await call("GET", "/api/v1/exceptions", "alice")
    assert [e["id"] for e in listed] == [owned["id"], top["id"]]
    _, listed = await call("GET", "/api/v1/exceptions", "bob")
    assert [e["id"] for e in listed] == [top["id"]]
    status, _ = await call("DELETE", f"/api/v1/exceptions/{owned['id']}", "bob")
    assert status == 404  # not told it exists
    status, _ = await call("DELETE", f"/api/v1/exceptions/{owned['id']}", "alice")
    assert status == 403
    status, _ = await call("DELETE", f"/api/v1/exceptions/{top['id']}", "red-owner")
    assert status == 403
    assert (await call("DELETE", f"/api/v1/exceptions/{owned['id']}", "red-owner"))[0] == 204
    assert (await call("DELETE", f"/api/v1/exceptions/{owned['id']}", ADMIN))[0] == 404
    _, listed = await call("GET", "/api/v1/exceptions", ADMIN)
    assert [e["id"] for e in listed] == [top["id"]]


async def tag_id(served: Served, repository: str, tag: str) -> int:
    _, body = await served.call("GET", "/api/v1/vulnerabilities/CVE-2022-25883")
    return next(
        a["tag_id"] for a in body["affected"] if (a["repository"], a["tag"]) == (repository, tag)
    )


async def test_exceptions_apply_to_the_hub_the_verdict_and_the_gate(
    served: Served,
    hub: Hub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    call = served.call
    blue = await tag_id(served, "blue/api", "2.0")
    _, before = await call("GET", f"/api/v1/tags/{blue}/vulnerabilities")
    assert before["verdict"]["label"] in ORDER and before["allowed"] == 0

    # semver's advisory by its CVE alias in lower case, in namespace blue; minimist everywhere.
    _, semver = await call("POST", "/api/v1/exceptions", ADMIN, allow("cve-2022-25883", "blue"))
    _, minimist = await call("POST", "/api/v1/exceptions", ADMIN, allow(MINIMIST, None))

    # The hub marks the allowed (tag, finding) pairs, and can leave them out.
    _, body = await call("GET", "/api/v1/vulnerabilities")
    found = {v["id"]: v for v in body["items"]}
    assert (found[SEMVER]["tags"], found[SEMVER]["allowed_tags"]) == (3, 1)
    assert (found[MINIMIST]["tags"], found[MINIMIST]["allowed_tags"]) == (1, 1)
    _, body = await call("GET", "/api/v1/vulnerabilities/CVE-2022-25883")
    marks = {(a["repository"], a["tag"]): a["allowed"] for a in body["affected"]}
    assert marks[("red/app", "1.0")] is None and marks[("lib", "latest")] is None
    assert marks[("blue/api", "2.0")]["by"] == "admin-token"
    assert marks[("blue/api", "2.0")]["reason"] == "cve-2022-25883: not reachable here"
    _, body = await call("GET", "/api/v1/vulnerabilities", hide_allowed="true")
    found = {v["id"]: v for v in body["items"]}
    assert MINIMIST not in found and found[SEMVER]["tags"] == 2
    status, page = await call("GET", "/vulnerabilities")
    assert status == 200 and 'id="exception-list"' in page
    assert f'data-exception="{semver["id"]}"' in page and "not reachable here" in page

    # The tag's vulnerabilities and verdict: both findings allowed, no severity left.
    _, after = await call("GET", f"/api/v1/tags/{blue}/vulnerabilities")
    assert after["allowed"] == 2
    assert all(f["allowed"] is not None for f in after["vulnerabilities"])
    assert after["verdict"]["label"] not in ORDER
    status, page = await call("GET", f"/tags/{blue}")
    assert status == 200 and page.count('data-allowed="true"') == 2
    red = await tag_id(served, "red/app", "1.0")
    _, other = await call("GET", f"/api/v1/tags/{red}/vulnerabilities")
    assert other["allowed"] == 0 and other["verdict"]["label"] in ORDER

    # The gate, with --server and in this process: nothing left to fail, the allowed said.
    report = await asyncio.to_thread(apiclient.request_scan, served.base, ADMIN, "blue/api:2.0")
    assert report["allowed"] == 2
    assert finish(report, "json", fail_on="Low", ignore_unfixed=False) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["gate"]["allowed"] == 2
    assert "gate: 2 findings allowed by exceptions (not counted)" in out.err
    code = await scan_command(served.settings, "blue/api:2.0", "table", fail_on="Low")
    assert code == 0
    assert "2 allowed by exceptions" in capsys.readouterr().err
    assert await scan_command(served.settings, "red/app:1.0", "json", fail_on="Low") == 1
    capsys.readouterr()

    # Expired: it stops applying at once (the row is kept, listed as expired).
    async with hub.db.write() as session:
        await session.execute(
            update(VulnerabilityException)
            .where(VulnerabilityException.id == minimist["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    _, after = await call("GET", f"/api/v1/tags/{blue}/vulnerabilities")
    assert after["allowed"] == 1 and after["verdict"]["label"] in ORDER
    report = await asyncio.to_thread(apiclient.request_scan, served.base, ADMIN, "blue/api:2.0")
    assert finish(report, "json", fail_on="Low", ignore_unfixed=False) == 1
    capsys.readouterr()
    _, listed = await call("GET", "/api/v1/exceptions")
    assert {e["id"]: e["expired"] for e in listed} == {semver["id"]: False, minimist["id"]: True}
    _, active = await call("GET", "/api/v1/exceptions", active="true")
    assert [e["id"] for e in active] == [semver["id"]]


@pytest.fixture
def cli(database_url: str) -> Callable[..., Result]:
    env = {"PORTSIDE_DATABASE_URL": database_url, "PORTSIDE_LOG_LEVEL": "warning"}
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli_app, list(args), env=env, catch_exceptions=False)

    return run


def test_the_allow_commands(cli: Callable[..., Result], database_url: str) -> None:
    async def namespace() -> None:
        now = datetime.now(UTC)
        async with Database(database_url) as db, db.write() as session:
            registry_id = await store.ensure_registry(session, "http://127.0.0.1:5000", now)
            await accounts.add_user(session, "ann", now, registry_id=registry_id)
            await accounts.add_team(session, "team", "ann", now)
            await accounts.add_namespace(
                session, "ns", "team", Visibility.PRIVATE, now, registry_id=registry_id
            )

    asyncio.run(namespace())
    result = cli("allow", "add", "CVE-2021-44228", "--reason", "no JNDI here")
    assert result.exit_code == 0, result.stderr
    first = int(result.stdout)
    result = cli(
        "allow",
        "add",
        "GHSA-c2qf-rxjj-qqgw",
        "--namespace",
        "ns",
        "--reason",
        "dev only",
        "--expires",
        "7",
    )
    assert result.exit_code == 0, result.stderr
    second = int(result.stdout)
    # Refused: an unknown namespace (1), no reason or an expiry past a year (2).
    result = cli("allow", "add", "CVE-1", "--namespace", "nope", "--reason", "x")
    assert result.exit_code == 1 and "no namespace 'nope'" in result.stderr
    assert cli("allow", "add", "CVE-1", "--reason", " ").exit_code == 2
    assert cli("allow", "add", "CVE-1", "--reason", "x", "--expires", "366").exit_code == 2
    assert cli("allow", "add", "CVE-1").exit_code == 2  # --reason is required

    result = cli("allow", "list", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["id"], r["vulnerability"], r["namespace"]) for r in rows] == [
        (first, "CVE-2021-44228", None),
        (second, "GHSA-c2qf-rxjj-qqgw", "ns"),
    ]
    assert all(r["created_by"].startswith("cli:") and not r["expired"] for r in rows)
    expires = datetime.fromisoformat(rows[1]["expires_at"])
    created = datetime.fromisoformat(rows[1]["created_at"])
    assert expires - created == timedelta(days=7)
    result = cli("allow", "list")
    assert result.exit_code == 0 and "no JNDI here" in result.stdout and "(global)" in result.stdout

    assert cli("allow", "remove", str(first)).stdout == f"removed exception {first}\n"
    result = cli("allow", "remove", str(first))
    assert result.exit_code == 1 and f"no exception {first}" in result.stderr
    assert [r["id"] for r in json.loads(cli("allow", "list", "--json").stdout)] == [second]
