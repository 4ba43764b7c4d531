"""The security hub's searches at scale (PostgreSQL): 10,000 scanned images, 1,000,000
findings rows, 20,000 advisories with two aliases each. Times the reads the API and the page
make (``portside.reads.vulnerabilities``, every query of one call), median of several runs,
against the target of 100 ms for an id/alias search, and shows the plans (EXPLAIN ANALYZE).

    .venv/bin/python -m bench.vuln_hub [--images 10000] [--findings 100] [--runs 9]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import event

from bench.common import machine, median, wait_quiet, write_section
from portside.accounts.policy import Principal
from portside.accounts.vocabulary import Role
from portside.db import migrate
from portside.db.engine import Database
from portside.reads import vulnerabilities as hub
from portside.security.severity import ORDER

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "portside_bench_hub"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{PG_NAME}"
TARGET_MS = 100.0
NAMESPACES = 100
ADVISORIES = 20_000
PACKAGES = 5_000
VERSIONS = 3  # installed versions of each advisory's package found across the images
TEAM_NAMESPACES = 10  # the viewer's team owns ns001..ns010 (a tenth of the index)


def advisory_id(n: int) -> str:
    return f"GHSA-{n:04x}-bnch-{n % 9973:04d}"


def cve(n: int) -> str:
    return f"CVE-2099-{n:05d}"


def package(n: int) -> str:
    return f"pkg-{n:05d}"


async def recreate() -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {PG_NAME}")
    finally:
        await conn.close()


async def fill(images: int, per_image: int, vacuum: bool, seed: int = 7) -> dict[str, Any]:
    """The index (namespaces, repositories, one tag per image, the scan targets), the
    advisories and their aliases, and the findings, by COPY."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    conn = await asyncpg.connect(PG_URL)
    started = time.perf_counter()
    try:
        await conn.execute(
            "INSERT INTO registries (id, name, url, created_at) "
            "VALUES (1, 'default', 'http://registry.invalid', now())"
        )
        await conn.execute(
            "INSERT INTO teams (id, name, hidden, created_at) VALUES (1, 'team', false, now())"
        )
        await conn.execute(
            "INSERT INTO namespaces (id, registry_id, name, visibility, team_id, created_at) "
            "SELECT n, 1, 'ns' || lpad(n::text, 3, '0'), 'private', "
            f"CASE WHEN n <= {TEAM_NAMESPACES} THEN 1 END, now() "
            f"FROM generate_series(1, {NAMESPACES}) AS n"
        )
        await conn.execute(
            "INSERT INTO repositories (id, registry_id, namespace_id, name, created_at, "
            "updated_at) SELECT r, 1, (r - 1) % 100 + 1, 'ns' || lpad(((r - 1) % 100 + 1)::text, "
            "3, '0') || '/app-' || lpad(r::text, 6, '0'), now(), now() "
            f"FROM generate_series(1, {images}) AS r"
        )
        digest = "'sha256:' || lpad(r::text, 64, '0')"
        await conn.execute(
            "INSERT INTO tags (repository_id, name, digest, media_type, size, platforms, "
            "described, scan_state, source_at, created_at, updated_at) "
            f"SELECT r, 'v1', {digest}, 'application/vnd.oci.image.manifest.v1+json', 1000, "
            f"'[]'::json, true, 'done', now(), now(), now() FROM generate_series(1, {images}) AS r"
        )
        await conn.execute(
            "INSERT INTO scan_targets (id, digest, repository, status, priority, attempts, "
            "available_at, findings, counts, scanned_at, created_at) "
            f"SELECT r, {digest}, 'x', 'done', 0, 1, now(), '[]'::json, '{{}}'::json, now(), "
            f"now() FROM generate_series(1, {images}) AS r"
        )
        severities = [s for s in ORDER if s != "Unknown"]
        await conn.copy_records_to_table(
            "advisories",
            records=[
                (
                    advisory_id(n),
                    now,
                    False,
                    severities[n % len(severities)],
                    f"synthetic advisory {n}",
                    f'{{"id": "{advisory_id(n)}"}}',
                    now,
                )
                for n in range(ADVISORIES)
            ],
            columns=["id", "modified", "withdrawn", "severity", "summary", "data", "imported_at"],
        )
        aliases = []
        for n in range(ADVISORIES):
            for name in (advisory_id(n), cve(n), f"PYSEC-2099-{n}"):
                aliases.append((name.lower(), advisory_id(n), name))
        await conn.copy_records_to_table(
            "advisory_aliases", records=aliases, columns=["key", "advisory_id", "alias"]
        )

        # Findings: advisory n affects package n % PACKAGES (so each package has
        # ADVISORIES / PACKAGES advisories), at every one of its VERSIONS installed versions
        # that images have: a group per (package, version) (id p * VERSIONS + v + 1) holding
        # one ``findings`` row per advisory of the package, as a scan stores them. Each image
        # has ``per_image`` findings: per_image / (advisories per package) vulnerable packages,
        # popular ones far more often (r ** 3 skews to the low numbers), each at one of the
        # versions: one ``image_finding_groups`` row each.
        per_package = ADVISORIES // PACKAGES
        await conn.copy_records_to_table(
            "finding_groups",
            records=[
                (p * VERSIONS + v + 1, f"bench-{p}-{v}", now)
                for p in range(PACKAGES)
                for v in range(VERSIONS)
            ],
            columns=["id", "key", "created_at"],
        )
        await conn.copy_records_to_table(
            "findings",
            records=[
                (
                    p * VERSIONS + v + 1,
                    advisory_id(n),
                    "npm",
                    package(p),
                    f"1.{p % 7}.{v}",
                    f"1.{p % 7}.9" if n % 10 < 7 else None,
                    severities[n % len(severities)],
                )
                for p in range(PACKAGES)
                for v in range(VERSIONS)
                for n in range(p, ADVISORIES, PACKAGES)
            ],
            columns=[
                "group_id",
                "advisory_id",
                "ecosystem",
                "package",
                "version",
                "fixed_version",
                "severity",
            ],
        )

        def links() -> Any:
            for target in range(1, images + 1):
                chosen: set[int] = set()
                while len(chosen) < per_image // per_package:
                    chosen.add(int(PACKAGES * rng.random() ** 3))
                for p in sorted(chosen):
                    yield (target, p * VERSIONS + rng.randrange(VERSIONS) + 1)

        await conn.copy_records_to_table(
            "image_finding_groups", records=links(), columns=["scan_target_id", "group_id"]
        )
        # As autovacuum leaves tables after a bulk load: statistics and the visibility map.
        await conn.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
        joined = "image_finding_groups AS l JOIN findings AS f ON f.group_id = l.group_id"
        counted = await conn.fetchval(f"SELECT count(*) FROM {joined}")
        groups = await conn.fetchval("SELECT count(*) FROM image_finding_groups")
        popular = await conn.fetchrow(
            f"SELECT advisory_id, count(*) AS n FROM {joined} GROUP BY advisory_id "
            "ORDER BY n DESC LIMIT 1"
        )
        median_adv = await conn.fetchrow(
            f"SELECT advisory_id, n FROM (SELECT advisory_id, count(*) AS n FROM {joined} "
            "GROUP BY advisory_id) AS c ORDER BY n LIMIT 1 OFFSET "
            f"(SELECT count(DISTINCT advisory_id) / 2 FROM {joined})"
        )
        top_package = await conn.fetchrow(
            f"SELECT package, count(*) AS n FROM {joined} GROUP BY package ORDER BY n DESC LIMIT 1"
        )
    finally:
        await conn.close()
    n_popular = int(popular["advisory_id"].split("-")[1], 16)
    n_median = int(median_adv["advisory_id"].split("-")[1], 16)
    return {
        "seconds": time.perf_counter() - started,
        "findings": counted,
        "links": groups,
        "popular": (cve(n_popular), int(popular["n"])),
        "median": (cve(n_median), int(median_adv["n"])),
        "package": (top_package["package"], int(top_package["n"])),
    }


class Statements:
    """The SQL statements a call sends (to EXPLAIN the first)."""

    def __init__(self, db: Database) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.on = False

        def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if self.on:
                self.seen.append((statement, params))

        event.listen(db.engine.sync_engine, "before_cursor_execute", record)


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    await call()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def explain(db: Database, statements: Statements, call: Callable[[], Awaitable[Any]]) -> str:
    statements.seen.clear()
    statements.on = True
    await call()
    statements.on = False
    # The main query: the first that reads the findings (the alias lookup comes before it).
    sql, params = next((q, p) for q, p in statements.seen if "GROUP BY" in q)
    async with db.read() as session:
        conn = await session.connection()
        found = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        return "\n".join(row[0] for row in found.all())


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    await recreate()
    out: dict[str, Any] = {}
    async with Database(PG_URL) as db:
        await migrate.upgrade(db)
        out["data"] = await fill(args.images, args.findings, not args.no_vacuum)
        statements = Statements(db)
        admin = Principal(name="admin", admin=True)
        viewer = Principal(name="viewer", user_id=1, roles={1: Role.VIEWER})
        popular, median_cve, pkg = (
            out["data"]["popular"][0],
            out["data"]["median"][0],
            out["data"]["package"][0],
        )

        def listing(who: Principal, **where: Any) -> Callable[[], Awaitable[Any]]:
            async def call() -> Any:
                async with db.read() as session:
                    return await hub.vulnerabilities(session, who, hub.HubFilter(**where))

            return call

        def detail(who: Principal, name: str) -> Callable[[], Awaitable[Any]]:
            async def call() -> Any:
                async with db.read() as session:
                    return await hub.vulnerability(session, who, name, hub.HubFilter())

            return call

        def exposed(who: Principal) -> Callable[[], Awaitable[Any]]:
            async def call() -> Any:
                async with db.read() as session:
                    return await hub.exposed_images(session, who, hub.HubFilter())

            return call

        cases: list[tuple[str, Callable[[], Awaitable[Any]], bool]] = [
            (
                f"alias search, most widespread CVE ({popular}), admin",
                listing(admin, q=popular),
                True,
            ),
            (f"alias search, median CVE ({median_cve}), admin", listing(admin, q=median_cve), True),
            (f"alias search ({popular}), a team's viewer", listing(viewer, q=popular), True),
            (
                f"id search ({hub_id(popular)}, lower case), admin",
                listing(admin, q=hub_id(popular).lower()),
                True,
            ),
            (f"package search ({pkg}, most findings), admin", listing(admin, package=pkg), True),
            (f"package search ({pkg}), a team's viewer", listing(viewer, package=pkg), True),
            (f"detail by alias ({popular}), first 100 tags, admin", detail(admin, popular), False),
            ("unfiltered list, most widespread first, admin", listing(admin), False),
            ("unfiltered list, a team's viewer", listing(viewer), False),
            ("most exposed images, admin", exposed(admin), False),
        ]
        out["times"] = {}
        for name, call, _ in cases:
            wait_quiet(max_wait=30)
            out["times"][name] = await timed(call, args.runs)
            print(f"  {name}: {median(out['times'][name]):.1f} ms", flush=True)
        out["targets"] = [name for name, _, targeted in cases if targeted]
        out["plans"] = {
            "alias search (the list's main query)": await explain(db, statements, cases[0][1]),
            "package search (the list's main query)": await explain(db, statements, cases[4][1]),
        }
    return out


def hub_id(cve_id: str) -> str:
    return advisory_id(int(cve_id.rsplit("-", 1)[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--findings", type=int, default=100, help="per image")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--no-vacuum", action="store_true", help="ANALYZE only after the load (no visibility map)"
    )
    args = parser.parse_args()
    out = asyncio.run(measure(args))
    data = out["data"]
    lines = [
        "## The security hub's searches (`bench/vuln_hub.py`, PostgreSQL)",
        "",
        f"Command: `.venv/bin/python -m bench.vuln_hub --images {args.images} --findings "
        f"{args.findings} --runs {args.runs}{' --no-vacuum' if args.no_vacuum else ''}`",
        "",
        *machine(),
        f"- Data: {args.images:,} tagged, scanned images (one tag each, {NAMESPACES} private "
        f"namespaces; a team owns {TEAM_NAMESPACES} of them), {data['findings']:,} findings "
        f"({args.findings} per image, popular ones far more often: {data['links']:,} "
        "`image_finding_groups` rows, each image linked to the group of findings of each of "
        f"its vulnerable packages; {PACKAGES * VERSIONS:,} groups, {PACKAGES:,} packages at "
        f"{VERSIONS} installed versions, each with {ADVISORIES // PACKAGES} advisories: "
        f"{ADVISORIES * VERSIONS:,} `findings` rows), "
        f"{ADVISORIES:,} advisories with 2 aliases each ({ADVISORIES * 3:,} `advisory_aliases` "
        f"rows, their own ids included), loaded by COPY in {data['seconds']:.0f} s, then "
        + (
            "ANALYZE only (`--no-vacuum`: no visibility map, so no index-only scans). "
            if args.no_vacuum
            else "VACUUM ANALYZE (what autovacuum does to a table after a bulk load). "
        )
        + f"The most widespread CVE has {data['popular'][1]:,} findings, the median one "
        + f"{data['median'][1]:,}; the package searched has {data['package'][1]:,}.",
        "- Each row: one call of `portside.reads.vulnerabilities` (all its queries: the page, "
        "the total, the aliases and summaries, the tag counts), in process, on a warm cache; "
        f"median of {args.runs} runs after one warm-up, each case after waiting for a quiet "
        "machine (at most 30 s).",
        "",
        "| Read | median ms | target |",
        "|---|---:|---|",
    ]
    for name, times in out["times"].items():
        ms = median(times)
        target = (
            ("met" if ms < TARGET_MS else "**missed**") + f" (< {TARGET_MS:.0f} ms)"
            if name in out["targets"]
            else "—"
        )
        lines.append(f"| {name} | {ms:.1f} | {target} |")
    lines += [
        "",
        "Raw runs (ms): `"
        + repr({k: [round(t, 1) for t in v] for k, v in out["times"].items()})
        + "`",
        "",
    ]
    for name, plan in out["plans"].items():
        lines += [f"Plan, {name}:", "", "```", plan, "```", ""]
    write_section("vuln_hub", "\n".join(lines))


if __name__ == "__main__":
    main()
