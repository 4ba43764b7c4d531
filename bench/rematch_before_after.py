"""The re-match of ``bench/rematch.py``, an older checkout's code against this one's, on the
same data, in alternating processes (the machine's speed drifts from minute to minute, so only
what is measured side by side is compared).

    git worktree add --detach /tmp/before <commit>
    .venv/bin/python -m bench.rematch_before_after --before /tmp/before [--runs 3]

The database is built once with the older checkout's code (its schema, its import of the
synthetic advisories, its ``bench.rematch`` images), copied, and the copy upgraded with this
checkout's ``portside db upgrade``. Each run starts a fresh process on a fresh copy: findings
reset, one re-match of every image with every key of the index as changed keys (what an import
of all the records passes on; ``first``), then the same call again (``again``, nothing
changed). Results go to docs/benchmarks.md (section ``rematch_before_after``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.common import BIN, ROOT, WORK, machine, median, portside_env, wait_quiet, write_section

BUILD = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from bench import rematch as B
from bench.common import WORK
from portside.db.engine import Database
from portside.security.scanning.advisory_store import import_path

async def main(url, advisories, images):
    WORK.mkdir(parents=True, exist_ok=True)
    async with Database(url) as db:
        now = datetime.now(UTC)
        await B.store_targets(db, B.package_lists(images, 10), now - timedelta(days=1))
        await import_path(db, B.osv_zip(advisories, False), now)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""

RUN = """
import asyncio, inspect, json, sys, time
from datetime import UTC, datetime
from sqlalchemy import text
from bench import rematch as B
from portside.db.engine import Database
from portside.security.scanning.rematch import rematch

async def main(url, workers):
    # Code from before vulndb.rematch_workers matches in its own process only.
    options = {"workers": workers} if "workers" in inspect.signature(rematch).parameters else {}
    async with Database(url) as db:
        await B.reset(db)
        # Every key of the index: what an import of all the records passes on.
        async with db.read() as session:
            found = await session.execute(text("SELECT ecosystem, name FROM advisory_packages"))
            keys = {(ecosystem, name) for ecosystem, name in found.all()}
        now = datetime.now(UTC)
        started = time.perf_counter()
        result = await rematch(db, now, keys, **options)
        first = time.perf_counter() - started
        started = time.perf_counter()
        await rematch(db, now, keys, **options)
        again = time.perf_counter() - started
    print(json.dumps({"first": first, "again": again, "changed": result.changed}))

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def python(root: Path, script: str, *args: str) -> str:
    """Run ``script`` with the code of the checkout at ``root`` (its src and bench first on the
    path), this checkout's virtual environment; its standard output."""
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise SystemExit(f"failed in {root}:\n{done.stderr[-3000:]}")
    return done.stdout


def commit(root: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="an older checkout")
    parser.add_argument("--advisories", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=1, help="vulndb.rematch_workers for this commit's code"
    )
    args = parser.parse_args()
    before = args.before.resolve()
    WORK.mkdir(parents=True, exist_ok=True)
    built = WORK / "rematch-before.db"
    for leftover in WORK.glob("rematch-before.db*"):
        leftover.unlink()
    url = f"sqlite:///{built}"
    subprocess.run(
        [sys.executable, "-c", "from portside.launch import main; main()", "db", "upgrade"],
        env={**portside_env(url, 0), "PYTHONPATH": str(before / "src")},
        check=True,
        capture_output=True,
        timeout=120,
    )
    print("building the database with the older code", flush=True)
    python(before, BUILD, url, str(args.advisories), str(args.images))
    upgraded = WORK / "rematch-after.db"
    shutil.copy(built, upgraded)
    subprocess.run(
        [str(BIN / "portside"), "db", "upgrade"],
        env=portside_env(f"sqlite:///{upgraded}", 0),
        check=True,
        capture_output=True,
        timeout=600,
    )
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for run in range(args.runs):
        for name, root, source in (("before", before, built), ("after", ROOT, upgraded)):
            copy = WORK / f"rematch-{name}-run.db"
            for leftover in WORK.glob(f"rematch-{name}-run.db*"):
                leftover.unlink()
            shutil.copy(source, copy)
            wait_quiet()
            runs[name].append(json.loads(python(root, RUN, f"sqlite:///{copy}", str(args.workers))))
            print(f"  run {run + 1} {name}: {runs[name][-1]}", flush=True)
    rows = []
    for what in ("first", "again"):
        old = median([r[what] for r in runs["before"]])
        new = median([r[what] for r in runs["after"]])
        rows.append(f"| {what} | {old:.2f} | {new:.2f} | {new / old:.2f} |")
    body = [
        "## Re-match, an older commit against this one (`bench/rematch_before_after.py`)",
        "",
        "Command: `git worktree add --detach /tmp/before "
        f"{commit(before)} && .venv/bin/python -m bench.rematch_before_after --before "
        f"/tmp/before --runs {args.runs} --workers {args.workers}`",
        "",
        *machine(),
        f"- The data of `bench/rematch.py` ({args.advisories:,} synthetic advisories, "
        f"{args.images:,} images), built once with commit {commit(before)}'s code and "
        f"upgraded to this commit's schema; runs alternate between the two, each in a fresh "
        "process on a fresh copy: findings reset, `rematch(db, now, keys)` over every image, "
        "`keys` every (ecosystem, name) of `advisory_packages` (what an import of all the "
        "records passes on) "
        f"(`first`; this commit's with `workers={args.workers}`, `vulndb.rematch_workers`, "
        "where the code has it), then again with nothing changed (`again`). Seconds, medians "
        "of the runs.",
        "",
        f"| | {commit(before)} (s) | this commit (s) | ratio |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        "Raw runs: `" + json.dumps(runs) + "`",
    ]
    write_section("rematch_before_after", "\n".join(body))


if __name__ == "__main__":
    main()
