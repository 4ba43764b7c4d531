"""The web UI's test world: a registry filled and synced into a fresh SQLite index, rows the
registry cannot produce (scan results, hostile text, failed events, task states), and a
headless Chromium (Debian's, driven by Playwright) that refuses to leave 127.0.0.1."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, Request
from sqlalchemy import select, update

from portside.db.engine import Database
from portside.db.models import Activity, RegistryEvent, Repository, ScanTarget, Tag, TaskState
from portside.registry.client import RegistryClient
from portside.settings import RegistrySettings
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.support.populate import Pusher, make_image
from tests.support.registry import running_registry

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN = "ui-admin-s3cret"

SERVICES = [f"shop/svc-{n:02d}" for n in range(60)]
# repository -> tag -> image seed (the same seed is the same image, so the same digest)
IMAGES: dict[str, dict[str, str]] = {
    **{name: {"1.0": name} for name in SERVICES},
    "library/debian": {"12": "debian-12", "latest": "debian-12", "12-slim": "slim", "11": "old"},
    "library/alpine": {"3.19": "alpine"},
    "tools/builder": {"1.0": "builder"},
}

HOSTILE_ERROR = "<img src=x onerror=alert('error')>registry answered 500 <b>bad gateway</b>"
HOSTILE_ACTOR = '<script>alert("actor")</script>'
HOSTILE_SUMMARY = "<img src=x onerror=alert('summary')><script>alert('summary')</script> overflow"
HOSTILE_LINK = "javascript:alert(1)"
GOOD_LINK = "https://security-tracker.debian.org/tracker/DSA-5514-1"

PACKAGES = [
    ("libc6", "2.36-9+deb12u2"),
    ("libssl3", "3.0.11-1~deb12u1"),
    ("openssh-client", "1:9.2p1-2"),
    ("passwd", "1:4.13+dfsg1-1"),
    ("apt", "2.6.1"),
    ("bash", "5.2.15-2+b2"),
    ("zlib1g", "1:1.2.13.dfsg-1"),
]

FINDINGS: list[dict[str, Any]] = [
    {
        "id": "GHSA-xss0-0000-0001",
        "aliases": ["CVE-2099-0001"],
        "severity": "Critical",
        "package": "libssl3",
        "version": "3.0.11-1~deb12u1",
        "ecosystem": "Debian:12",  # as the matcher records it
        "fixed_version": None,
        "summary": HOSTILE_SUMMARY,
        "links": [HOSTILE_LINK, "https://example.org/advisories/0001"],
    },
    {
        "id": "DSA-5514-1",
        "aliases": ["CVE-2023-4911"],
        "severity": "High",
        "package": "libc6",
        "version": "2.36-9+deb12u2",
        "ecosystem": "Debian:12",  # as the matcher records it
        "fixed_version": "2.36-9+deb12u3",
        "summary": "glibc: buffer overflow in ld.so's GLIBC_TUNABLES (Looney Tunables)",
        "links": [GOOD_LINK],
    },
    {
        "id": "CVE-2023-38408",
        "aliases": [],
        "severity": "High",
        "package": "openssh-client",
        "version": "1:9.2p1-2",
        "ecosystem": "Debian:12",  # as the matcher records it
        "fixed_version": "1:9.2p1-2+deb12u1",
        "summary": "ssh-agent: remote code execution through a forwarded agent",
        "links": [],
    },
    {
        "id": "CVE-2023-29383",
        "aliases": [],
        "severity": "Medium",
        "package": "passwd",
        "version": "1:4.13+dfsg1-1",
        "ecosystem": "Debian:12",  # as the matcher records it
        "fixed_version": None,
        "summary": "shadow: chfn accepts control characters",
        "links": [],
    },
    {
        "id": "CVE-2011-3374",
        "aliases": [],
        "severity": "Low",
        "package": "apt",
        "version": "2.6.1",
        "ecosystem": "Debian:12",  # as the matcher records it
        "fixed_version": None,
        "summary": "apt does not check the keyring's expiry",
        "links": ["http://example.com/apt"],
    },
]


@dataclass
class Seeded:
    """The ids the tests look for."""

    debian: int  # repository library/debian
    debian_12: int  # tag with findings
    alpine_319: int  # tag that passed its scan
    hostile_event: int  # failed, HTML in its error
    retry_event: int  # failed, retried by the browser test
    nojs_event: int  # failed, retried by the test without JavaScript
    digests: dict[tuple[str, str], str] = field(default_factory=dict)


async def push_and_sync(db: Database, root: Path) -> dict[tuple[str, str], str]:
    """Push every image of :data:`IMAGES` to a real registry; a sync indexes them."""
    digests: dict[tuple[str, str], str] = {}
    with running_registry(root) as registry:
        async with Pusher(registry.url) as pusher:

            async def one(repository: str, tag: str, seed: str) -> None:
                digests[(repository, tag)] = await pusher.push(repository, tag, make_image(seed))

            await asyncio.gather(
                *(one(r, t, s) for r, tags in IMAGES.items() for t, s in tags.items())
            )
        async with RegistryClient(RegistrySettings(url=registry.url)) as client:
            report = await SyncRun(db, client, SyncOptions()).run()
    assert report.summary.errors == [], report.summary.errors
    shutil.rmtree(root, ignore_errors=True)
    return digests


def _event(n: int, now: datetime, **values: Any) -> RegistryEvent:
    row: dict[str, Any] = {
        "event_id": f"ui-event-{n}",
        "action": "push",
        "repository": "library/debian",
        "tag": "12",
        "digest": "sha256:" + f"{n:x}" * 64,
        "media_type": "application/vnd.oci.image.manifest.v1+json",
        "actor": "ci-bot",
        "occurred_at": now - timedelta(minutes=n),
        "received_at": now - timedelta(minutes=n),
        "data": {},
        "status": "done",
        "attempts": 1,
        "available_at": now - timedelta(minutes=n),
        "processed_at": now - timedelta(minutes=n),
    }
    row.update(values)
    return RegistryEvent(**row)


async def seed_rows(db: Database, digests: dict[tuple[str, str], str]) -> Seeded:
    """What only time, a scanner and failures would produce."""
    now = datetime.now(UTC)
    async with db.write() as session:
        tags = {
            (repo, tag): tag_id
            for tag_id, repo, tag in (
                await session.execute(
                    select(Tag.id, Repository.name, Tag.name).join(
                        Repository, Repository.id == Tag.repository_id
                    )
                )
            ).all()
        }
        debian_id = await session.scalar(
            select(Repository.id).where(Repository.name == "library/debian")
        )
        assert debian_id is not None
        # What the events would have filled in (the sync cannot know who pushed).
        await session.execute(
            update(Tag)
            .where(Tag.repository_id == debian_id)
            .values(author="alice", pushed_at=now - timedelta(hours=3), pulled_at=now)
        )
        scanned, slim, old = (
            digests[("library/debian", "12")],
            digests[("library/debian", "12-slim")],
            digests[("library/debian", "11")],
        )
        alpine = digests[("library/alpine", "3.19")]

        def target(digest: str, status: str, **values: Any) -> ScanTarget:
            return ScanTarget(
                digest=digest,
                repository="library/debian",
                status=status,
                priority=0,
                attempts=1,
                available_at=now,
                created_at=now,
                **values,
            )

        session.add_all(
            [
                target(
                    scanned,
                    "done",
                    scanned_at=now - timedelta(minutes=20),
                    counts={"Critical": 1, "High": 2, "Medium": 1, "Low": 1},
                    findings=FINDINGS,
                    os={
                        "id": "debian",
                        "version_id": "12",
                        "version_codename": "bookworm",
                        "pretty_name": "Debian GNU/Linux 12 (bookworm)",
                    },
                    packages=[
                        {
                            "name": name,
                            "version": version,
                            "ecosystem": "deb",
                            "purl": f"pkg:deb/debian/{name}@{version}?distro=debian-12",
                        }
                        for name, version in PACKAGES
                    ],
                ),
                target(slim, "progress"),
                target(old, "failed", error="layer sha256:0bad is over the size limit"),
                target(
                    alpine,
                    "done",
                    scanned_at=now - timedelta(minutes=5),
                    counts={},
                    findings=[],
                    packages=[],
                ),
            ]
        )
        for digest, state in ((scanned, "done"), (slim, "in progress"), (old, "failed")):
            await session.execute(update(Tag).where(Tag.digest == digest).values(scan_state=state))
        await session.execute(update(Tag).where(Tag.digest == alpine).values(scan_state="done"))

        session.add_all(
            [
                Activity(
                    at=now,
                    kind="tag.push",
                    actor=HOSTILE_ACTOR,
                    repository="library/debian",
                    tag="12",
                    digest=scanned,
                    details={},
                ),
                Activity(
                    at=now - timedelta(milliseconds=10),
                    kind="scan.new-vulnerabilities",
                    actor="portside-scanner",
                    repository="library/debian",
                    tag="12",
                    digest=scanned,
                    details={"message": "1 new Critical in library/debian:12"},
                ),
            ]
        )
        hostile = _event(1, now, status="failed", attempts=5, error=HOSTILE_ERROR)
        retry = _event(2, now, status="failed", attempts=5, error="registry unreachable")
        nojs = _event(3, now, status="failed", attempts=5, error="manifest digest mismatch")
        session.add_all([hostile, retry, nojs])
        session.add_all([_event(n, now) for n in range(4, 12)])
        session.add(_event(12, now, status="fresh", attempts=0, processed_at=None))
        session.add_all(
            [
                TaskState(
                    name="events",
                    enabled=True,
                    worker="web-1:4242",
                    last_started_at=now - timedelta(seconds=2),
                    last_finished_at=now - timedelta(seconds=2),
                    last_duration=0.04,
                    next_run_at=now + timedelta(seconds=1),
                    runs=1520,
                    details={},
                ),
                TaskState(
                    name="sync",
                    enabled=True,
                    worker="web-1:4242",
                    last_started_at=now - timedelta(minutes=4),
                    last_finished_at=now - timedelta(minutes=4),
                    last_duration=1.8,
                    last_error="registry unavailable: connection refused",
                    last_error_at=now - timedelta(minutes=4),
                    next_run_at=now + timedelta(minutes=56),
                    runs=12,
                    details={},
                ),
                TaskState(
                    name="scan",
                    enabled=True,
                    worker="web-1:4242",
                    last_started_at=now - timedelta(seconds=20),
                    last_finished_at=now - timedelta(seconds=18),
                    last_duration=2.3,
                    next_run_at=now + timedelta(seconds=10),
                    runs=48,
                    details={},
                ),
            ]
        )
        await session.flush()
        return Seeded(
            debian=debian_id,
            debian_12=tags[("library/debian", "12")],
            alpine_319=tags[("library/alpine", "3.19")],
            hostile_event=hostile.id,
            retry_event=retry.id,
            nojs_event=nojs.id,
            digests=digests,
        )


class Tab:
    """A page in its own browser context that records what must never happen: a dialog
    (an injected script ran), a request that leaves the server, a CSP violation."""

    def __init__(self, page: Page, base: str):
        self.page = page
        self.base = base
        self.dialogs: list[str] = []
        self.outside: list[str] = []
        self.csp: list[str] = []
        self._dismissing: set[asyncio.Task[None]] = set()
        page.on("dialog", self._dialog)
        page.on("request", self._request)
        page.on("console", self._console)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        task = asyncio.get_running_loop().create_task(dialog.dismiss())
        self._dismissing.add(task)
        task.add_done_callback(self._dismissing.discard)

    def _request(self, request: Request) -> None:
        if not request.url.startswith(self.base + "/"):
            self.outside.append(request.url)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp.append(message.text)

    async def open(self, path: str) -> Page:
        response = await self.page.goto(self.base + path)
        assert response is not None and response.ok, (path, response and response.status)
        return self.page

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"a script ran: {self.dialogs}"
        assert self.outside == [], f"requests left the server: {self.outside}"
        assert self.csp == [], f"content security policy violations: {self.csp}"


async def new_tab(
    browser: Browser,
    base: str,
    *,
    javascript: bool = True,
    headers: dict[str, str] | None = None,
) -> Tab:
    """A fresh browser context; ``headers`` go with every request (e.g. a personal token as
    ``Authorization: Bearer``)."""
    context = await browser.new_context(
        viewport={"width": 1366, "height": 860},
        java_script_enabled=javascript,
        extra_http_headers=headers,
    )
    context.set_default_timeout(10_000)
    return Tab(await context.new_page(), base)
