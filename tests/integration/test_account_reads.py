"""Every read shows only what the principal may see, through a real server on both
databases: the API's lists, totals, search, counts, activities, one repository or tag by id
(404), a tag's vulnerabilities, an SBOM, the events, status and metrics (admins only), and
the pages, as ann (viewer of team A), bob (owner of team B), carol (in no team), anonymous
on a bind that does not trust anonymous readers, admins (token and user) and the trusted
anonymous reader of a loopback bind (EVERYONE)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from portside.accounts import store as accounts
from portside.accounts.vocabulary import Role, Visibility
from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import RegistryEvent, ScanTarget, Tag
from portside.index import store
from portside.index.vocabulary import ActivityKind
from portside.registry.images import ImageInfo
from tests.integration.conftest import make_settings, serving

ADMIN = "admin-s3cret"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
# repository -> its namespace's owner and visibility (glob: the global namespace, public)
REPOSITORIES = ["a/app", "b/secret", "p/pub", "r/prot", "glob"]
SHARED = "sha256:" + "e" * 64  # a/app:shared and b/secret:shared


def digest_of(repository: str) -> str:
    return "sha256:" + format(REPOSITORIES.index(repository) + 1, "x") * 64


# What each reader may see (ann: team A's a and p; bob: team B's b and r; carol: logged in).
SEES = {
    "ann": {"a/app", "p/pub", "r/prot", "glob"},
    "bob": {"b/secret", "p/pub", "r/prot", "glob"},
    "carol": {"p/pub", "r/prot", "glob"},
    "anonymous": {"p/pub", "glob"},
    "admin": set(REPOSITORIES),
    "root": set(REPOSITORIES),
}


@dataclass
class World:
    base: str
    open_base: str  # the same index on a bind that trusts anonymous readers
    headers: dict[str, dict[str, str]]
    repository_ids: dict[str, int] = field(default_factory=dict)
    tag_ids: dict[tuple[str, str], int] = field(default_factory=dict)


def _tag(name: str, digest: str) -> Tag:
    tag = Tag(
        name=name,
        created_at=NOW,
        updated_at=NOW,
        source_at=NOW,
        scan_state="done",
        platforms=[],
    )
    store.apply_image(
        tag,
        ImageInfo(digest=digest, media_type="application/vnd.oci.image.manifest.v1+json", size=1),
    )
    return tag


def _scan(digest: str, repository: str, counts: dict[str, int]) -> ScanTarget:
    return ScanTarget(
        digest=digest,
        repository=repository,
        status="done",
        priority=0,
        attempts=1,
        available_at=NOW,
        created_at=NOW,
        scanned_at=NOW,
        counts=counts,
        packages=[{"name": "bash", "version": "5", "ecosystem": "deb"}],
        findings=[
            {
                "id": f"CVE-{level}",
                "severity": level,
                "package": "bash",
                "version": "5",
                "ecosystem": "deb",
            }
            for level in counts
        ],
    )


async def seed(db: Database, world: World) -> dict[str, str]:
    """The accounts, the index and its history; returns each user's personal token."""
    tokens: dict[str, str] = {}
    async with db.write() as session:
        registry_id = await store.ensure_registry(session, "http://r", NOW)
        for name in ("root", "alice", "ann", "bob", "carol"):
            await accounts.add_user(
                session, name, NOW, registry_id=registry_id, password=PASSWORD, admin=name == "root"
            )
            tokens[name] = (await accounts.add_token(session, name, "t", NOW))[1]
        await accounts.add_team(session, "A", "alice", NOW)
        await accounts.set_member(session, "A", "ann", Role.VIEWER, NOW)
        await accounts.add_team(session, "B", "bob", NOW)
        for name, team, visibility in (
            ("a", "A", Visibility.PRIVATE),
            ("b", "B", Visibility.PRIVATE),
            ("p", "A", Visibility.PUBLIC),
            ("r", "B", Visibility.PROTECTED),
        ):
            await accounts.add_namespace(
                session, name, team, visibility, NOW, registry_id=registry_id
            )
        repos, _ = await store.ensure_repositories(session, registry_id, REPOSITORIES, NOW)
        for name, repo in repos.items():
            repo.tags.append(_tag("1.0", digest_of(name)))
            store.record(
                session,
                ActivityKind.TAG_PUSH,
                NOW,
                actor="ci",
                repository=name,
                tag="1.0",
                digest=digest_of(name),
            )
            # b/secret alone has a Critical finding: its count would betray it.
            levels = {"Critical": 7} if name == "b/secret" else {"Low": 1}
            session.add(_scan(digest_of(name), name, levels))
        for name in ("a/app", "b/secret"):
            repos[name].tags.append(_tag("shared", SHARED))
        session.add(_scan(SHARED, "b/secret", {"High": 1}))
        store.record(session, ActivityKind.SCAN_COMPLETED, NOW, actor=None, note="no repository")
        session.add(
            RegistryEvent(
                event_id="e1",
                action="push",
                repository="b/secret",
                tag="1.0",
                digest=digest_of("b/secret"),
                occurred_at=NOW,
                received_at=NOW,
                available_at=NOW,
                data={},
                status="done",
            )
        )
        await session.flush()
        for name, repo in repos.items():
            world.repository_ids[name] = repo.id
            for tag in repo.tags:
                world.tag_ids[(name, tag.name)] = tag.id
    return tokens


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


def expected_summary(seen: set[str]) -> dict[str, Any]:
    digests = {digest_of(name) for name in seen}
    findings = dict.fromkeys(["Critical", "High", "Medium", "Low", "Negligible", "Unknown"], 0)
    for name in seen:
        findings["Critical" if name == "b/secret" else "Low"] += 7 if name == "b/secret" else 1
    if seen & {"a/app", "b/secret"}:
        digests.add(SHARED)
        findings["High"] += 1
    tags = len(seen) + len(seen & {"a/app", "b/secret"})
    return {
        "repositories": len(seen),
        "tags": tags,
        "scanned_digests": len(digests),
        "vulnerabilities": findings,
        "estimated": False,
    }


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
