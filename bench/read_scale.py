"""Reads at scale: every page and API list timed on a large index built by SQL.

PostgreSQL: 100,000 repositories in 1,000 namespaces, 10 tags each (1,000,000 tags),
1,000,000 activities and 10,000 scanned digests; SQLite: 10,000 repositories x 10 tags,
100,000 activities, 1,000 scanned digests. The index is built on the real schema with a few
``INSERT ... SELECT`` statements (``generate_series`` / a recursive CTE), then
``portside serve`` answers on loopback and each URL is asked several times in turn
(the median is kept). With ``--before DIR``, the same data is first served by the code in
``DIR/src`` (e.g. /work/main, on its own schema head) to show the old medians in the same
run; the cursor URLs are new and only timed after.

    .venv/bin/python -m bench.read_scale [--before /work/main] [--backend pg|sqlite|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import BIN, WORK, free_port, machine, median, portside_env, stop, wait_http
from bench.common import write_section as write_doc_section
from portside.reads.paging import Cursor, encode_cursor

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "portside_bench_reads"
RUNS = 9  # timed requests per URL (after 2 warm-ups)
TARGET_MS = {"postgresql": 100.0, "sqlite": 50.0}


@dataclass(frozen=True)
class Scale:
    repositories: int
    namespaces: int
    tags: int  # per repository
    activities: int
    scanned: int
    ui_page: int  # a deep page by number (50 a page), as old links had them
    api_page: int


SCALES = {
    "postgresql": Scale(100_000, 1_000, 10, 1_000_000, 10_000, 500, 400),  # the pages
    "sqlite": Scale(10_000, 100, 10, 100_000, 1_000, 100, 80),
}


def series(backend: str, name: str, count: int) -> tuple[str, str]:
    """(a WITH prefix, a FROM item) giving ``name`` = 1..count."""
    if backend == "postgresql":
        return "", f"generate_series(1, {count}) AS {name}({name})"
    return (
        f"WITH RECURSIVE {name}({name}) AS (SELECT 1 UNION ALL SELECT {name} + 1 FROM {name} "
        f"WHERE {name} < {count}) ",
        name,
    )


def pad(backend: str, expr: str, width: int) -> str:
    if backend == "postgresql":
        return f"lpad(({expr})::text, {width}, '0')"
    return f"printf('%0{width}d', {expr})"


def build_statements(backend: str, scale: Scale) -> list[str]:
    now = "now()" if backend == "postgresql" else "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    json_empty = "'[]'" if backend == "sqlite" else "'[]'::json"
    obj_empty = "'{}'" if backend == "sqlite" else "'{}'::json"
    counts = """'{"High": 2, "Low": 1}'""" + ("" if backend == "sqlite" else "::json")
    ns = f"'ns' || {pad(backend, '(r - 1) % ' + str(scale.namespaces) + ' + 1', 4)}"
    repo_name = f"{ns} || '/app-' || {pad(backend, 'r', 6)}"
    digest = f"'sha256:' || {pad(backend, 'r * 100 + t', 64)}"
    if backend == "postgresql":
        at = "now() - interval '30 days' + a * interval '1 second'"
    else:
        at = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-30 days', '+' || a || ' seconds')"
    w_n, f_n = series(backend, "r", scale.namespaces)
    w_r, f_r = series(backend, "r", scale.repositories)
    w_t, f_t = series(backend, "t", scale.tags)
    w_a, f_a = series(backend, "a", scale.activities)
    w_s, f_s = series(backend, "r", scale.scanned)
    tags_from = f"{f_r}, {f_t}" if backend == "postgresql" else "r, t"
    tags_with = (
        "" if backend == "postgresql" else w_r.rstrip() + ", " + w_t.removeprefix("WITH RECURSIVE ")
    )
    activity_repo = (
        f"'ns' || {pad(backend, f'((a - 1) % {scale.repositories}) % {scale.namespaces} + 1', 4)}"
        f" || '/app-' || {pad(backend, f'(a - 1) % {scale.repositories} + 1', 6)}"
    )
    return [
        f"INSERT INTO registries (id, name, url, created_at) VALUES (1, 'default', "
        f"'http://registry.invalid', {now})",
        f"{w_n}INSERT INTO namespaces (id, registry_id, name, created_at) "
        f"SELECT r, 1, {ns}, {now} FROM {f_n}",
        f"{w_r}INSERT INTO repositories (id, registry_id, namespace_id, name, created_at, "
        f"updated_at) SELECT r, 1, (r - 1) % {scale.namespaces} + 1, {repo_name}, {now}, {now} "
        f"FROM {f_r}",
        f"{tags_with}INSERT INTO tags (repository_id, name, digest, media_type, size, platforms, "
        f"described, scan_state, source_at, created_at, updated_at) "
        f"SELECT r, 'v' || t, {digest}, 'application/vnd.oci.image.manifest.v1+json', 1000, "
        f"{json_empty}, true, 'pending', {now}, {now}, {now} FROM {tags_from}",
        f"{w_a}INSERT INTO activities (at, kind, actor, repository, tag, digest, details) "
        f"SELECT {at}, 'tag.push', 'bench', {activity_repo}, 'v1', NULL, {obj_empty} FROM {f_a}",
        f"{w_s}INSERT INTO scan_targets (digest, repository, status, priority, attempts, "
        f"available_at, counts, scanned_at, created_at) "
        f"SELECT 'sha256:' || {pad(backend, 'r * 100 + 1', 64)}, {repo_name}, 'done', 0, 1, "
        f"{now}, {counts}, {now}, {now} FROM {f_s}",
    ]


def fresh_url(backend: str) -> str:
    if backend == "sqlite":
        path = WORK / "read_scale.db"
        WORK.mkdir(parents=True, exist_ok=True)
        for leftover in WORK.glob("read_scale.db*"):
            leftover.unlink()
        return f"sqlite:///{path}"

    async def recreate() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {PG_NAME}")
        finally:
            await conn.close()

    asyncio.run(recreate())
    return f"postgresql://postgres@127.0.0.1:5432/{PG_NAME}"


def code_env(url: str, port: int, src: str | None) -> dict[str, str]:
    env = portside_env(url, port)
    env["PORTSIDE_API__ANONYMOUS_READS"] = "true"
    if src:
        env["PYTHONPATH"] = src  # ahead of the editable install: that checkout's code
    return env


def upgrade(url: str, src: str | None) -> None:
    subprocess.run(
        [str(BIN / "portside"), "db", "upgrade"],
        env=code_env(url, 0, src),
        check=True,
        capture_output=True,
        timeout=300,
    )


def async_url(url: str) -> str:
    if url.startswith("sqlite:"):
        return url.replace("sqlite:", "sqlite+aiosqlite:", 1)
    return url.replace("postgresql:", "postgresql+asyncpg:", 1)


async def run_sql(url: str, statements: Sequence[str]) -> list[Any]:
    engine = create_async_engine(async_url(url))
    found: list[Any] = []
    try:
        async with engine.begin() as conn:
            for statement in statements:
                result = await conn.execute(text(statement))
                found.append(result.all() if result.returns_rows else None)
    finally:
        await engine.dispose()
    return found


async def analyze(url: str) -> None:
    engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


@dataclass
class Marks:
    """Rows deep in the lists, to build cursors to their middle."""

    repository_id: int = 0
    tag_id: int = 0
    mid_repository: tuple[str, int] = ("", 0)
    mid_activity: tuple[str, int] = ("", 0)
    mid_activity_id: int = 0
    repository_name: str = ""
    cursors: dict[str, str] = field(default_factory=dict)


async def find_marks(url: str, scale: Scale) -> Marks:
    half = scale.repositories // 2
    rows = await run_sql(
        url,
        [
            f"SELECT name, id FROM repositories ORDER BY name, id LIMIT 1 OFFSET {half}",
            f"SELECT min(id) FROM tags WHERE repository_id = {half}",
            f"SELECT at, id FROM activities ORDER BY at DESC, id DESC LIMIT 1 "
            f"OFFSET {scale.activities // 2}",
        ],
    )
    (mid_name, mid_id), (tag_id,), (at, activity_id) = rows[0][0], rows[1][0], rows[2][0]
    when = at if isinstance(at, str) else at.isoformat()
    if isinstance(at, str):  # SQLite hands the stored text back: make it an aware ISO time
        when = at.replace(" ", "T") + "+00:00"
    marks = Marks(half, int(tag_id), (mid_name, mid_id), (when, activity_id), activity_id)
    marks.repository_name = mid_name
    marks.cursors = {
        "repositories": encode_cursor(Cursor((mid_name, mid_id), start=half + 2)),
        "activities_ui": encode_cursor(
            Cursor((when, activity_id), start=scale.activities // 2 + 2)
        ),
        "activities_api": encode_cursor(Cursor((activity_id,), start=scale.activities // 2 + 2)),
    }
    return marks


def urls(marks: Marks, scale: Scale) -> list[tuple[str, str, bool]]:
    """(label, path, cursor-only) for every page and API list."""
    c = marks.cursors
    ui, api = scale.ui_page, scale.api_page
    return [
        ("UI dashboard", "/", False),
        ("UI /repositories", "/repositories", False),
        (f"UI /repositories?page={ui}", f"/repositories?page={ui}", False),
        ("UI /repositories deep (cursor)", f"/repositories?after={c['repositories']}", True),
        ("UI /repositories?q=", "/repositories?q=app-04999", False),
        ("UI /repositories/{id}", f"/repositories/{marks.repository_id}", False),
        ("UI /tags/{id}", f"/tags/{marks.tag_id}", False),
        ("UI /activities", "/activities", False),
        (f"UI /activities?page={ui}", f"/activities?page={ui}", False),
        ("UI /activities deep (cursor)", f"/activities?after={c['activities_ui']}", True),
        ("UI /events", "/events", False),
        ("API /api/v1/summary", "/api/v1/summary", False),
        ("API /api/v1/status", "/api/v1/status", False),
        ("API /api/v1/repositories", "/api/v1/repositories", False),
        (f"API /api/v1/repositories?page={api}", f"/api/v1/repositories?page={api}", False),
        (
            "API /api/v1/repositories deep (cursor)",
            f"/api/v1/repositories?after={c['repositories']}",
            True,
        ),
        ("API /api/v1/repositories?q=", "/api/v1/repositories?q=app-04999", False),
        (
            "API /api/v1/repositories/{id}/tags",
            f"/api/v1/repositories/{marks.repository_id}/tags",
            False,
        ),
        ("API /api/v1/tags/{id}", f"/api/v1/tags/{marks.tag_id}", False),
        ("API /api/v1/activities", "/api/v1/activities", False),
        (
            "API /api/v1/activities deep (cursor)",
            f"/api/v1/activities?after={c['activities_api']}",
            True,
        ),
        (
            "API /api/v1/activities?repository=",
            f"/api/v1/activities?repository={marks.repository_name}",
            False,
        ),
        ("API /api/v1/events", "/api/v1/events", False),
    ]


def fetch(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as resp:
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{url}: {resp.status}")
    return (time.perf_counter() - started) * 1000


FRESH = [("UI dashboard", "/"), ("API /api/v1/summary", "/api/v1/summary")]
FRESH_RUNS = 3
CACHE_TTL = 10.0  # portside.reads.overview.CountsCache's


def time_server(
    url: str,
    src: str | None,
    paths: list[tuple[str, str, bool]],
    cursors: bool,
    fresh: bool = False,
) -> dict[str, float]:
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "portside"), "serve"],
        env=code_env(url, port, src),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    found: dict[str, float] = {}
    try:
        wait_http(f"{base}/healthz", 120, proc)
        for label, path, cursor_only in paths:
            if cursor_only and not cursors:
                continue
            for _ in range(2):
                fetch(base + path)
            found[label] = median([fetch(base + path) for _ in range(RUNS)])
            print(f"  {label}: {found[label]:.1f} ms", flush=True)
        for label, path in FRESH if fresh else []:  # the first request after the cache expired
            times = []
            for _ in range(FRESH_RUNS):
                time.sleep(CACHE_TTL + 0.2)
                times.append(fetch(base + path))
            found[f"{label}, counted afresh"] = median(times)
            print(f"  {label}, counted afresh: {median(times):.1f} ms", flush=True)
    finally:
        stop(proc)
    return found


def run_backend(backend: str, before: str | None) -> tuple[list[str], float]:
    scale = SCALES[backend]
    url = fresh_url(backend)
    src = f"{before}/src" if before else None
    started = time.monotonic()
    upgrade(url, src)  # the old schema first when timing the old code
    asyncio.run(run_sql(url, build_statements(backend, scale)))
    if backend == "postgresql":
        asyncio.run(
            run_sql(
                url,
                [
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                    for table in ("registries", "namespaces", "repositories")
                ],
            )
        )
    asyncio.run(analyze(url))
    built = time.monotonic() - started
    print(f"{backend}: built in {built:.0f} s", flush=True)
    marks = asyncio.run(find_marks(url, scale))
    paths = urls(marks, scale)
    old: dict[str, float] = {}
    if before:
        print(f"{backend}: the code in {before}", flush=True)
        old = time_server(url, src, paths, cursors=False)
        upgrade(url, None)
        asyncio.run(analyze(url))
    print(f"{backend}: this code", flush=True)
    new = time_server(url, None, paths, cursors=True, fresh=backend == "postgresql")
    target = TARGET_MS[backend]
    lines = [
        f"### {backend}: {scale.repositories:,} repositories in {scale.namespaces:,} "
        f"namespaces, {scale.tags} tags each, {scale.activities:,} activities, "
        f"{scale.scanned:,} scanned digests (built in {built:.0f} s)",
        "",
        f"Median of {RUNS} requests each, ms (target: under {target:.0f} ms).",
        "",
        "| Request | " + ("before | " if before else "") + "after |",
        "|---|" + ("---:|" if before else "") + "---:|",
    ]
    labels = [label for label, _, _ in paths]
    labels += [label for label in new if label not in labels]
    for label in labels:
        was = f"{old[label]:.1f} | " if label in old else ("— | " if before else "")
        mark = "" if new[label] < target else " (over)"
        lines.append(f"| {label} | {was}{new[label]:.1f}{mark} |")
    return lines, max(new.values())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--before", help="a checkout whose src/ is timed first (old code)")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args(argv)
    backends = {"pg": ["postgresql"], "sqlite": ["sqlite"], "both": ["postgresql", "sqlite"]}
    command = ".venv/bin/python -m bench.read_scale " + " ".join(
        (["--before", args.before] if args.before else []) + ["--backend", args.backend]
    )
    body = ["## Reads at scale (`bench/read_scale.py`)", "", f"- Command: `{command}`"]
    body += machine()
    body += [
        "- Each URL: 2 warm-ups, then the median of sequential requests to `portside serve`",
        "  on loopback (HTTP included). Cursor URLs start half way down the list; the old",
        "  code has no cursors (—). Counts over a PostgreSQL table past 50,000 rows are the",
        "  planner's estimate (shown as \"about\"), and such a large index's overview counts",
        "  are kept 10 s per process: most timed dashboard/summary requests are served from it;",
        f'  the rows "counted afresh": the median of {FRESH_RUNS} first requests after it expired.',
        "",
    ]
    for backend in backends[args.backend]:
        lines, worst = run_backend(backend, args.before)
        body += [*lines, "", f"Slowest request after: {worst:.1f} ms.", ""]
    text_ = "\n".join(body)
    print(text_)
    if not args.no_doc:
        write_doc_section("read_scale", text_)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
