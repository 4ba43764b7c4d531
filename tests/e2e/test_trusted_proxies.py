"""Which address the login throttle counts, through a real `portside serve`: the connection's
peer, unless the peer is in `server.trusted_proxies`, then the client its X-Forwarded-For
names. A forged header from an untrusted peer moves nothing, even with uvicorn's own
FORWARDED_ALLOW_IPS set to "*" (Portside ignores it). The login page and the registry's
token server count the same address. A wrong entry stops the start with the key's name."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import portside, portside_env
from tests.e2e.test_processes import start, stop, wait_http
from tests.support.net import free_port

REGISTRY = "127.0.0.1:5000"  # the token server's service (nothing needs to listen there)
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
PAGE_CLIENT, TOKEN_CLIENT, INNER_PROXY = "203.0.113.9", "198.51.100.7", "10.1.2.3"


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path, Path]]:
    """`portside serve` with the given server.trusted_proxies (None: unset); its base URL,
    database file and log folder."""
    proxies: list[str] | None = request.param
    port, database = free_port(), tmp_path / "portside.db"
    env = portside_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{database}",
        PORTSIDE_REGISTRY__URL=f"http://{REGISTRY}",
        PORTSIDE_SERVER__PORT=str(port),
        PORTSIDE_NOTIFICATIONS__TOKENS='["hook-s3cret"]',
        FORWARDED_ALLOW_IPS="*",  # uvicorn's own knob: Portside must not take it
    )
    if proxies is not None:
        env["PORTSIDE_SERVER__TRUSTED_PROXIES"] = json.dumps(proxies)
    assert portside("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    server = start("serve", env=env, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=15)
        yield f"http://127.0.0.1:{port}", database, tmp_path
    finally:
        stop(server)


async def fail_logins(base: str) -> None:
    """One failed login on the page and one at the token server, each with a forwarded
    client address (the page's passed through a second, inner proxy)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{base}/login") as page:
            found = CSRF_FIELD.search(await page.text())
        assert found is not None
        form = {"csrf": found.group(1), "name": "nobody", "password": "wrong-password"}
        async with client.post(
            f"{base}/login",
            data=form,
            headers={"X-Forwarded-For": f"{PAGE_CLIENT}, {INNER_PROXY}"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 401
        basic = base64.b64encode(b"somebody:wrong-password").decode()
        async with client.get(
            f"{base}/v2/token",
            params={"service": REGISTRY, "scope": "repository:ns/app:pull"},
            headers={"Authorization": f"Basic {basic}", "X-Forwarded-For": TOKEN_CLIENT},
        ) as resp:
            assert resp.status == 401


def counted(database: Path) -> set[str]:
    with sqlite3.connect(database) as conn:
        return {key for (key,) in conn.execute("SELECT key FROM login_throttle")}


USERS = {"user:nobody", "user:somebody"}


@pytest.mark.parametrize("served", [None, ["10.0.0.0/8", "::1"]], indirect=True)
async def test_a_forged_header_from_an_untrusted_peer_changes_nothing(
    served: tuple[str, Path, Path],
) -> None:
    base, database, folder = served
    await fail_logins(base)
    assert counted(database) == {"addr:127.0.0.1", *USERS}
    logs = "".join(path.read_text() for path in folder.glob("serve-*.log"))
    assert "FORWARDED_ALLOW_IPS is ignored" in logs


@pytest.mark.parametrize("served", [["127.0.0.1", "10.0.0.0/8"]], indirect=True)
async def test_a_trusted_proxys_header_names_the_client(served: tuple[str, Path, Path]) -> None:
    base, database, _ = served
    await fail_logins(base)
    # The page's request came through the inner proxy (trusted too): the first untrusted
    # address from the right is the client.
    assert counted(database) == {f"addr:{PAGE_CLIENT}", f"addr:{TOKEN_CLIENT}", *USERS}


def test_a_wrong_entry_stops_the_start_naming_the_key(tmp_path: Path) -> None:
    env = portside_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}",
        PORTSIDE_SERVER__TRUSTED_PROXIES='["10.0.0.0/8", "proxy.example"]',
    )
    result = portside("serve", env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert "server.trusted_proxies" in result.stderr
    assert "entry 1 ('proxy.example') is not an IP address or a CIDR network" in result.stderr
