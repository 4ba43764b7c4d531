"""Readers and what each may see: accounts (ann a viewer of team A, bob the owner of team B,
carol in no team, root an admin user), namespaces of each visibility, repositories, tags,
scans, activities and a registry event, seeded straight into the index (the integration and
the browser tests of the filtered reads share them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from portside.accounts import store as accounts
from portside.accounts.vocabulary import Role, Visibility
from portside.db.engine import Database
from portside.db.models import RegistryEvent, ScanTarget, Tag
from portside.index import store
from portside.index.vocabulary import ActivityKind
from portside.registry.images import ImageInfo

ADMIN = "admin-s3cret"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
# Namespaces: a (team A, private), b (team B, private), p (team A, public), r (team B,
# protected); glob is in the global namespace (public).
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


def expected_summary(seen: set[str]) -> dict[str, Any]:
    """``/api/v1/summary`` for a reader who sees ``seen``."""
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
