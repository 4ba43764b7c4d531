"""Re-matching stored package lists after a vulnerability-data import (SQLite): import N
synthetic OSV records with `advisory_store.import_path`, store M scanned images' package lists as
`scan_targets` rows, then time `rematch.rematch(db, now, keys, workers=N)` with the import's
changed keys, as `portside vulndb import` and the sources task call it (every image has one).

    .venv/bin/python -m bench.rematch [--advisories 100000] [--images 1000] [--runs 3]
        [--core-from 10] [--dense] [--profile] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import random
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from tests.unit.security.advisories import synthetic

from bench.common import WORK, fresh_sqlite, machine, median, wait_quiet, write_section
from portside.db.engine import Database
from portside.db.models import (
    Activity,
    AdvisoryPackage,
    Finding,
    FindingGroup,
    ImageFindingGroup,
    ScanTarget,
    Tag,
)
from portside.index import store
from portside.security import findings_store
from portside.security.analysis.catalogers.ospackage import os_package
from portside.security.analysis.files import MergedFile
from portside.security.analysis.purl import purl
from portside.security.packages import OsRelease, Package
from portside.security.scanning.advisory_store import import_path
from portside.security.scanning.records import os_record, package_record
from portside.security.scanning.rematch import WRITE_CHUNK, rematch

DEBIAN = OsRelease("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")
SITE = "usr/local/lib/python3.11/site-packages"


def osv_zip(total: int, dense: bool) -> Path:
    """``total`` synthetic OSV records (tests/unit/security/advisories/synthetic.py), one JSON file
    each,
    in a zip like osv.dev's all.zip; cached under bench/.work."""
    path = WORK / f"osv-{total}-{'dense' if dense else 'sparse'}.zip"
    if not path.exists():
        partial = path.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for record in synthetic.records(total, dense=dense):
                archive.writestr(f"{record['id']}.json", json.dumps(record))
        partial.rename(path)
    return path


def _version(rng: random.Random, ecosystem: str, index: int) -> str:
    # The same version scheme as the advisories: a package's major is fixed by its index.
    return synthetic._version(ecosystem, rng, index % 7 + 1, rng.randint(0, 9))


def debian_base(rng: random.Random, layer: str, core: int) -> list[Package]:
    """150-250 debs: 40 packages every Debian image has (much-advised sources, from name
    ``core`` on) and a random rest; some sources build two binaries (libc6, libc-bin)."""
    status = ("var/lib/dpkg/status", MergedFile(b"", layer))
    want, debs = rng.randint(150, 250), []
    sources = list(range(core, core + 40)) + rng.sample(range(core + 40, 3000), 400)
    for index in sources:
        source, version = synthetic._name("Debian:12", index), _version(rng, "Debian:12", index)
        for binary in [source, f"lib{source}"][: rng.choice((1, 1, 2))]:
            debs.append(
                os_package(
                    "deb",
                    DEBIAN,
                    status,
                    name=binary,
                    version=version,
                    arch="amd64",
                    source_name=source,
                    source_version=version,
                )
            )
        if len(debs) >= want:
            break
    return debs[:want]


def language(rng: random.Random, ecosystem: str, count: int, layer: str) -> list[Package]:
    kind = "pypi" if ecosystem == "PyPI" else "npm"
    names = sorted({synthetic._pick_name(rng, 3000) for _ in range(count)})
    out = []
    for index in names:
        name, version = synthetic._name(ecosystem, index), _version(rng, ecosystem, index)
        path = (
            f"{SITE}/{name}-{version}.dist-info/METADATA"
            if kind == "pypi"
            else f"app/node_modules/{name}/package.json"
        )
        out.append(Package(name, version, kind, purl(kind, None, name, version), layer, path))
    return out


def package_lists(images: int, core: int, seed: int = 3) -> list[list[dict[str, Any]]]:
    """Images built on 20 Debian 12 bases (a base's later builds upgrade some packages),
    30% with a Python application (10-60 distributions), 30% with an npm one (50-400)."""
    rng = random.Random(seed)
    bases = [debian_base(rng, f"sha256:{n:064x}", core) for n in range(20)]
    lists = []
    for n in range(images):
        packages = list(rng.choice(bases))
        for i in rng.sample(range(len(packages)), len(packages) // 10):
            p = packages[i]
            if p.source_name:
                version = _version(rng, "Debian:12", int(p.source_name.rsplit("pkg", 1)[1]))
                packages[i] = os_package(
                    "deb",
                    DEBIAN,
                    (p.path, MergedFile(b"", p.layer_digest)),
                    name=p.name,
                    version=version,
                    arch=p.arch,
                    source_name=p.source_name,
                    source_version=version,
                )
        layer = f"sha256:{n + 1000:064x}"
        if rng.random() < 0.3:
            packages += language(rng, "PyPI", rng.randint(10, 60), layer)
        if rng.random() < 0.3:
            packages += language(rng, "npm", rng.randint(50, 400), layer)
        lists.append([package_record(p) for p in packages])
    return lists


async def store_targets(db: Database, lists: list[list[dict[str, Any]]], now: datetime) -> None:
    """Each list as a scanned image (status done, not yet matched), tagged in the index."""
    names = [f"team{n % 25}/service{n // 4}" for n in range(0, len(lists), 4)]
    async with db.write() as session:
        registry = await store.ensure_registry(session, "http://registry.invalid", now)
        repos, _ = await store.ensure_repositories(session, registry, names, now)
        for n, packages in enumerate(lists):
            digest = f"sha256:{n:064x}"
            session.add(
                ScanTarget(
                    digest=digest,
                    repository=names[n // 4],
                    status="done",
                    available_at=now,
                    os=os_record(DEBIAN),
                    packages=packages,
                    findings=[],
                    counts={},
                    scanned_at=now,
                    created_at=now,
                )
            )
            session.add(
                Tag(
                    repository_id=repos[names[n // 4]].id,
                    name=f"v{n % 4}",
                    digest=digest,
                    source_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )


async def reset(db: Database) -> None:
    """Back to "scanned before the import": no findings, no activities."""
    async with db.write() as session:
        await session.execute(update(ScanTarget).values(findings=[], counts={}, matched_at=None))
        # The security hub's rows (migrations 0010, 0013).
        for table in (ImageFindingGroup, Finding, FindingGroup):
            await session.execute(delete(table))
        await session.execute(Activity.__table__.delete())


async def _no_rows(*_: Any) -> None:
    """``findings_store.store_groups`` as the code before migration 0010 had it: nothing."""


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    source = osv_zip(args.advisories, args.dense)
    lists = package_lists(args.images, args.core_from)
    out: dict[str, Any] = {"runs": [], "again": [], "without rows": [], "lists": lists}
    async with Database(fresh_sqlite("rematch")) as db:
        now = datetime.now(UTC)
        await store_targets(db, lists, now - timedelta(days=1))
        wait_quiet()
        started = time.perf_counter()
        imported = await import_path(db, source, now)
        out["import"] = time.perf_counter() - started
        out["imported"] = (imported.records, imported.changed, len(imported.problems))
        keys = imported.changed_keys  # what `vulndb import` and the sources task pass on
        out["keys"] = len(keys)
        async with db.read() as session:
            out["index rows"] = await session.scalar(select(func.count(AdvisoryPackage.id)))
        for run in range(args.runs):
            await reset(db)
            wait_quiet()
            started = time.perf_counter()
            result = await rematch(db, now, keys, workers=args.workers)
            out["runs"].append(time.perf_counter() - started)
            started = time.perf_counter()
            # Nothing changed since: reads and matches, writes nothing.
            again = await rematch(db, now, keys, workers=args.workers)
            out["again"].append(time.perf_counter() - started)
            # The code before the findings rows: the same re-match without writing them.
            await reset(db)
            wait_quiet()
            keep = findings_store.store_groups
            findings_store.store_groups = _no_rows
            try:
                started = time.perf_counter()
                await rematch(db, now, keys, workers=args.workers)
                out["without rows"].append(time.perf_counter() - started)
            finally:
                findings_store.store_groups = keep
            print(
                f"  run {run + 1}: re-match {out['runs'][-1]:.2f}s ({result.changed} "
                f"changed), again {out['again'][-1]:.2f}s ({again.changed} changed), without the "
                f"findings rows {out['without rows'][-1]:.2f}s",
                flush=True,
            )
        out["result"] = result
        async with db.read() as session:
            out["findings"] = sorted(
                len(f or []) for f in await session.scalars(select(ScanTarget.findings))
            )
            out["activities"] = await session.scalar(select(func.count(Activity.id)))
        if args.profile:
            await reset(db)
            profiler = cProfile.Profile()
            profiler.enable()
            await rematch(db, now, keys)  # in this process: a profile of the matching too
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(20)
            print(text.getvalue())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--advisories", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dense", action="store_true", help="most advisories affect (worst case)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one re-match")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes that match (vulndb.rematch_workers; default 1, as configured)",
    )
    parser.add_argument(
        "--core-from", type=int, default=10, help="first of the 40 sources every image has"
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    out = asyncio.run(measure(args))
    lists, result, found = out["lists"], out["result"], out["findings"]
    kinds = {
        k: [sum(p["ecosystem"] == k for p in lst) for lst in lists] for k in ("deb", "pypi", "npm")
    }
    rematch_s = median(out["runs"])
    flag = "dense" if args.dense else "sparse"
    body = [
        "## Re-matching stored package lists after an advisory import (SQLite)",
        "",
        f"Command: `.venv/bin/python -m bench.rematch --advisories {args.advisories} --images "
        f"{args.images} --runs {args.runs} --core-from {args.core_from}"
        f"{' --dense' if args.dense else ''} --workers {args.workers}`",
        "",
        *machine(),
        f"- Advisories: {args.advisories:,} synthetic OSV records "
        f"(`tests/unit/security/advisories/synthetic.py`, {flag}: "
        + (
            "most advisories affect the installed versions, a worst case"
            if args.dense
            else "most fixes predate the installed versions, as in distribution data"
        )
        + "; 40% Debian:12, 30% Ubuntu, 5% Alpine, 15% PyPI, 10% npm; popularity skewed), one "
        "JSON file each in a zip, imported with "
        "`portside.security.scanning.advisory_store.import_path` "
        f"({out['index rows']:,} `advisory_packages` rows).",
        f"- Images: {args.images:,} `scan_targets` rows (status done, `packages` and `os` as "
        "`package_record`/`os_record` write them), each tagged once in the index: Debian 12 on "
        f"20 bases, {min(kinds['deb'])}-{max(kinds['deb'])} debs each, 40 of them in every "
        f"image (the much-advised sources {args.core_from} to {args.core_from + 39} of the "
        "generator's popularity order; its first 10 stand for the kernel, browsers and the "
        "like, which images do not ship, unless `--core-from 0`), a tenth upgraded per build; "
        f"{sum(1 for n in kinds['pypi'] if n)} with PyPI packages, "
        f"{sum(1 for n in kinds['npm'] if n)} with npm packages; "
        f"{sum(map(len, lists)):,} package records in all.",
        "- Re-match: `portside.security.scanning.rematch.rematch(db, now, keys, "
        f"workers={args.workers})` "
        f"(the import's {out['keys']:,} changed keys, as `portside vulndb import` and the "
        "sources task pass them: every image has one; "
        + (
            f"matched in {args.workers} worker process{'es' if args.workers > 1 else ''} while "
            "this one writes, `vulndb.rematch_workers`"
            if args.workers
            else "matched and written in this process"
        )
        + "), after "
        "resetting the findings to empty (so every image gets its findings written and its "
        "activity recorded, as after a first import); wall time, median of the runs, each after "
        "waiting for a quiet machine; it also writes the security hub's rows "
        "(`portside.security.findings_store.store_groups`: findings grouped per vulnerable "
        "package, one link per package and image), in the same transactions as the findings "
        f"({WRITE_CHUNK} changed images each, `rematch.WRITE_CHUNK`). `again`: the same call "
        "right after, when nothing changed.",
        "",
        "| | seconds |",
        "|---|---:|",
        f"| import of {args.advisories:,} records (one run) | {out['import']:.1f} |",
        f"| re-match of {args.images:,} images (median) | {rematch_s:.2f} |",
        f"| re-match again, nothing changed (median) | {median(out['again']):.2f} |",
        "| re-match of the same images without writing the hub's rows "
        "(`findings_store.store_groups` "
        f"switched off; median) | {median(out['without rows']):.2f} |",
        "",
        f"- Target re-match under 10 s: {rematch_s:.2f} s, "
        f"{'met' if rematch_s < 10 else '**missed**'}.",
        f"- Import: {out['imported'][0]:,} records read, {out['imported'][1]:,} stored, "
        f"{out['imported'][2]} refused. Re-match: {result.images} images, {result.changed} "
        f"changed, {sum(found):,} findings stored (per image: median {median(found):.0f}, "
        f"max {found[-1]}), {out['activities']} activities.",
        "",
        f"Raw runs (s): re-match `{[round(r, 2) for r in out['runs']]}`, again "
        f"`{[round(r, 2) for r in out['again']]}`, without the rows "
        f"`{[round(r, 2) for r in out['without rows']]}`",
    ]
    write_section("rematch", "\n".join(body))


if __name__ == "__main__":
    main()
