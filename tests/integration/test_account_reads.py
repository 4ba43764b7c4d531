"""Every read shows only what the principal may see, through a real server on both
databases: the API's lists, totals, search, counts, activities, one repository or tag by id
(404), a tag's vulnerabilities, an SBOM, the events, status and metrics (admins only), and
the pages, as ann (viewer of team A), bob (owner of team B), carol (in no team), anonymous
on a bind that does not trust anonymous readers, admins (token and user) and the trusted
anonymous reader of a loopback bind (EVERYONE)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from portside.app import create_app
from portside.db.engine import Database
from tests.integration.conftest import make_settings, serving
from tests.support.readers import (
    ADMIN,
    REPOSITORIES,
    SEES,
    SHARED,
    World,
    digest_of,
    expected_summary,
    seed,
)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    closed = make_settings(database_url, api={"admin_tokens": [ADMIN], "anonymous_reads": False})
    trusting = make_settings(database_url, api={"admin_tokens": [ADMIN], "anonymous_reads": True})
    found = World("", "", {})
    async with Database(database_url) as db:
        tokens = await seed(db, found)
    found.headers = {
        "anonymous": {},
        "admin": {"Authorization": f"Bearer {ADMIN}"},
        **{name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()},
    }
    async with (
        serving(create_app(closed), closed.server.port) as base,
        serving(create_app(trusting), trusting.server.port) as open_base,
    ):
        found.base, found.open_base = base, open_base
        yield found


async def get(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], **params: Any
) -> tuple[int, Any]:
    async with http.get(url, headers=headers, params=params) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


@pytest.mark.parametrize("who", list(SEES))
async def test_the_api_shows_each_reader_what_it_may_see(world: World, who: str) -> None:
    seen, headers = SEES[who], world.headers[who]
    hidden = set(REPOSITORIES) - seen
    api = world.base + "/api/v1"
    async with aiohttp.ClientSession() as http:
        status, body = await get(http, f"{api}/repositories", headers)
        assert status == 200
        assert [r["name"] for r in body["items"]] == sorted(seen)
        assert body["total"] == len(seen)
        # Search: a name it may not see is not found, nor counted.
        status, body = await get(http, f"{api}/repositories", headers, q="secret")
        assert [r["name"] for r in body["items"]] == sorted(seen & {"b/secret"})
        assert body["total"] == len(seen & {"b/secret"})
        # Paging by key still walks the visible list only.
        status, first = await get(http, f"{api}/repositories", headers, per_page=2)
        names = [r["name"] for r in first["items"]]
        if first["next"]:
            status, rest = await get(
                http, f"{api}/repositories", headers, per_page=50, after=first["next"]
            )
            names += [r["name"] for r in rest["items"]]
        assert names == sorted(seen)
        # The dashboard's numbers.
        status, body = await get(http, f"{api}/summary", headers)
        assert status == 200
        assert body == expected_summary(seen)
        # The timeline: pushes of what it may see; an activity about no repository only for
        # who reads everything.
        status, body = await get(http, f"{api}/activities", headers)
        everything = who in ("admin", "root")
        expected = {(name, "tag.push") for name in seen}
        if everything:
            expected.add((None, "scan.completed"))
        assert {(a["repository"], a["kind"]) for a in body["items"]} == expected
        assert body["total"] == len(expected)
        status, body = await get(http, f"{api}/activities", headers, repository="b/secret")
        assert len(body["items"]) == len(seen & {"b/secret"}) == body["total"]
        # One repository, its tags, one tag, its vulnerabilities, by id: 404 when hidden.
        for name in REPOSITORIES:
            want = 200 if name in seen else 404
            repository_id = world.repository_ids[name]
            tag_id = world.tag_ids[(name, "1.0")]
            for path in (
                f"/repositories/{repository_id}",
                f"/repositories/{repository_id}/tags",
                f"/tags/{tag_id}",
                f"/tags/{tag_id}/vulnerabilities",
                f"/manifests/{digest_of(name)}/sbom",
            ):
                status, body = await get(http, api + path, headers)
                assert status == want, (who, path)
                if want == 404:
                    assert name not in str(body)
        # A digest shared with a repository it may not see is named by one it may see.
        status, body = await get(http, f"{api}/manifests/{SHARED}/sbom", headers)
        if seen & {"a/app", "b/secret"}:
            assert status == 200
            assert all(name not in body for name in hidden)
        else:
            assert status == 404
        # Global numbers: admins only (401 anonymous, 403 a user).
        for path in ("/api/v1/events", "/api/v1/status", "/metrics"):
            status, body = await get(http, world.base + path, headers)
            if everything:
                assert status == 200, path
            else:
                assert status == (401 if who == "anonymous" else 403), path
                assert "b/secret" not in str(body)


async def test_trusted_anonymous_readers_see_everything(world: World) -> None:
    api = world.open_base + "/api/v1"
    async with aiohttp.ClientSession() as http:
        status, body = await get(http, f"{api}/repositories", {})
        assert [r["name"] for r in body["items"]] == sorted(REPOSITORIES)
        status, body = await get(http, f"{api}/summary", {})
        assert body == expected_summary(set(REPOSITORIES))
        status, body = await get(http, f"{api}/activities", {})
        assert body["total"] == len(REPOSITORIES) + 1
        for path in ("/api/v1/events", "/api/v1/status", "/metrics"):
            status, _ = await get(http, world.open_base + path, {})
            assert status == 200, path
        # ... but a bad token is still refused, not read as anonymous.
        status, _ = await get(http, f"{api}/repositories", {"Authorization": "Bearer pst_nope"})
        assert status == 401


def count_on(page: str, card: str) -> int:
    match = re.search(rf'id="{card}">.*?<span class="num">(\d+)</span>', page, re.S)
    assert match is not None, card
    return int(match.group(1))


@pytest.mark.parametrize("who", ["ann", "anonymous", "root"])
async def test_the_pages_show_each_reader_what_it_may_see(world: World, who: str) -> None:
    seen, headers = SEES[who], world.headers[who]
    hidden = set(REPOSITORIES) - seen
    everything = who == "root"
    async with aiohttp.ClientSession() as http:
        status, page = await get(http, world.base + "/", headers)
        assert status == 200
        expected = expected_summary(seen)
        assert count_on(page, "count-repositories") == expected["repositories"]
        assert count_on(page, "count-tags") == expected["tags"]
        assert count_on(page, "count-scanned") == expected["scanned_digests"]
        assert ('id="queues"' in page) is everything
        assert ('href="/events"' in page) is everything
        assert ("you see the public namespaces only" in page) is (who == "anonymous")
        critical = re.search(r'data-severity="Critical">.*?<td class="n">(\d+)</td>', page, re.S)
        assert critical is not None and int(critical.group(1)) == (7 if everything else 0)
        for path in ("/repositories", "/repositories?q=secret", "/activities"):
            status, page = await get(http, world.base + path, headers)
            assert status == 200
            assert all(name not in page for name in hidden), path
            if path == "/repositories":
                assert all(name in page for name in seen)
        for name in REPOSITORIES:
            want = 200 if name in seen else 404
            for path in (
                f"/repositories/{world.repository_ids[name]}",
                f"/tags/{world.tag_ids[(name, '1.0')]}",
            ):
                status, page = await get(http, world.base + path, headers)
                assert status == want, (who, path)
                if want == 404:
                    assert name not in page
        # a/app:shared's page names the other tags on its digest that the reader may see.
        if "a/app" in seen:
            status, page = await get(
                http, f"{world.base}/tags/{world.tag_ids[('a/app', 'shared')]}", headers
            )
            assert status == 200
            assert ("b/secret" in page) is ("b/secret" in seen)
        status, page = await get(http, world.base + "/events", headers)
        assert status == (200 if everything else 401 if who == "anonymous" else 403)
        assert ("b/secret" in page) is everything
