"""Registry synchronization: Portside's sync against the floor, the serial Portus-style walk,
on loopback and behind a 5 ms-each-way proxy.

    .venv/bin/python -m bench.sync_walk [--repositories 2000] [--tags 5] [--runs 3]

The floor is the minimum set of requests a walk needs (catalog pages, tag lists, one HEAD per
tag) from a bare aiohttp script at the same concurrency, storing nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import time
from typing import Any

import aiohttp
from tests.support.populate import Pusher, make_image
from tests.support.registry import running_registry

from bench.common import BIN, WORK, fresh_sqlite, machine, median, portside_env, write_section
from bench.latency_proxy import LatencyProxy
from portside.db.engine import Database
from portside.registry.client import RegistryClient
from portside.registry.mediatypes import ACCEPT
from portside.settings import RegistrySettings
from portside.sync.one_pass import SyncOptions, SyncRun

CONCURRENCY = 16
PAGE = 1000


async def populate(url: str, repositories: int, tags: int) -> None:
    async with Pusher(url, concurrency=32) as pusher:

        async def one(n: int) -> None:
            name = f"team{n % 50}/svc{n}"
            for t in range(tags):
                await pusher.push(name, f"v{t}", make_image(f"{name}:{t}"))

        await asyncio.gather(*(one(n) for n in range(repositories)))


async def floor_walk(url: str) -> int:
    """Catalog, tag lists, one HEAD per tag, at CONCURRENCY; returns the request count."""
    limit = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    requests = 0
    async with aiohttp.ClientSession(connector=connector) as http:

        async def get_json(path: str) -> tuple[Any, str | None]:
            nonlocal requests
            async with limit, http.get(url + path) as resp:
                requests += 1
                return await resp.json(), resp.headers.get("Link")

        async def repo(name: str) -> None:
            nonlocal requests
            data, _ = await get_json(f"/v2/{name}/tags/list")

            async def head(tag: str) -> None:
                nonlocal requests
                async with (
                    limit,
                    http.head(
                        f"{url}/v2/{name}/manifests/{tag}", headers={"Accept": ACCEPT}
                    ) as resp,
                ):
                    requests += 1
                    resp.headers["Docker-Content-Digest"]

            await asyncio.gather(*(head(t) for t in data.get("tags") or []))

        path: str | None = f"/v2/_catalog?n={PAGE}"
        tasks = []
        while path:
            data, link = await get_json(path)
            tasks += [asyncio.create_task(repo(n)) for n in data["repositories"]]
            path = link.split(";")[0].strip("<> ") if link else None
        await asyncio.gather(*tasks)
    return requests


async def serial_walk(url: str) -> int:
    """Portus's way: catalog, then per repository its tags, then GET each manifest, one at
    a time."""
    requests = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        path: str | None = "/v2/_catalog?n=100"
        names: list[str] = []
        while path:
            async with http.get(url + path) as resp:
                requests += 1
                names += (await resp.json())["repositories"]
                link = resp.headers.get("Link")
            path = link.split(";")[0].strip("<> ") if link else None
        for name in names:
            async with http.get(f"{url}/v2/{name}/tags/list") as resp:
                requests += 1
                tags = (await resp.json()).get("tags") or []
            for tag in tags:
                async with http.get(
                    f"{url}/v2/{name}/manifests/{tag}", headers={"Accept": ACCEPT}
                ) as resp:
                    requests += 1
                    await resp.read()
    return requests


async def portside_sync(url: str, db_url: str) -> dict[str, Any]:
    registry = RegistrySettings(url=url, concurrency=CONCURRENCY, catalog_page=PAGE)
    async with Database(db_url) as db, RegistryClient(registry) as client:
        report = await SyncRun(
            db, client, SyncOptions(page_size=PAGE, concurrency=CONCURRENCY)
        ).run()
    s = report.summary
    described = report.describe.requests if report.describe else 0
    return {
        "requests": report.requests,
        "index_s": report.index_duration,
        "index_requests": report.requests - described,
        "writes": s.added + s.moved + s.removed_tags,
        "errors": len(s.errors),
        "tags": s.tags,
    }


async def timed(coro: Any) -> tuple[float, float, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, t0 = usage.ru_utime + usage.ru_stime, time.perf_counter()
    result = await coro
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime - cpu0, result


async def measure(url: str, runs: int, serial: bool) -> dict[str, list[tuple[float, float, Any]]]:
    out: dict[str, list[tuple[float, float, Any]]] = {"floor": [], "first": [], "second": []}
    for run in range(runs):
        out["floor"].append(await timed(floor_walk(url)))
        db_url = fresh_sqlite(f"sync-{run}")
        out["first"].append(await timed(portside_sync(url, db_url)))
        out["second"].append(await timed(portside_sync(url, db_url)))
        print(
            f"  run {run + 1}: floor {out['floor'][-1][0]:.2f}s first {out['first'][-1][0]:.2f}s "
            f"second {out['second'][-1][0]:.2f}s",
            flush=True,
        )
    if serial:
        out["serial"] = [await timed(serial_walk(url))]
        print(f"  serial {out['serial'][-1][0]:.2f}s", flush=True)
    return out


def process_cpu(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def registry_cost(url: str, pid: int, repositories: int) -> dict[str, float]:
    """The registry's CPU (ms) per request of each kind the sync makes: a manifest HEAD, a
    manifest GET, a config blob GET; each kind for every tag of ``repositories``
    repositories, at CONCURRENCY, the registry's CPU read from /proc around the batch."""
    limit = asyncio.Semaphore(CONCURRENCY)
    manifest = {"Accept": ACCEPT}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:
        async with http.get(f"{url}/v2/_catalog?n={repositories}") as resp:
            names = (await resp.json())["repositories"]
        tags = []
        for name in names:
            async with http.get(f"{url}/v2/{name}/tags/list") as resp:
                tags += [(name, tag) for tag in (await resp.json())["tags"]]

        async def config_of(name: str, tag: str) -> str:
            async with limit, http.get(f"{url}/v2/{name}/manifests/{tag}", headers=manifest) as r:
                return str((await r.json(content_type=None))["config"]["digest"])

        configs = await asyncio.gather(*(config_of(n, t) for n, t in tags))

        async def one(method: str, path: str, headers: dict[str, str]) -> None:
            async with limit, http.request(method, url + path, headers=headers) as resp:
                await resp.read()

        kinds = {
            "manifest HEAD": [("HEAD", f"/v2/{n}/manifests/{t}", manifest) for n, t in tags],
            "manifest GET": [("GET", f"/v2/{n}/manifests/{t}", manifest) for n, t in tags],
            "config blob GET": [
                ("GET", f"/v2/{n}/blobs/{c}", {}) for (n, _), c in zip(tags, configs, strict=True)
            ],
        }
        cost = {}
        for kind, requests in kinds.items():
            before = process_cpu(pid)
            await asyncio.gather(*(one(*r) for r in requests))
            cost[kind] = (process_cpu(pid) - before) * 1000 / len(requests)
    return cost


def peak_memory(url: str) -> float:
    """Peak RSS (MB) of a whole `portside sync` process into an empty SQLite index."""
    db_url = fresh_sqlite("sync-memory")
    env = portside_env(db_url, 0, url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(
        [str(BIN / "portside"), "sync"], env=env, check=True, capture_output=True, timeout=1800
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(before, after) / 1024


def index_complete(results: dict[str, list[tuple[float, float, Any]]]) -> list[float]:
    """The first syncs' time until the index matched the registry (before describing)."""
    return [r[2]["index_s"] for r in results["first"]]


def table(name: str, results: dict[str, list[tuple[float, float, Any]]]) -> list[str]:
    floor = median([r[0] for r in results["floor"]])
    lines = [
        f"| {name} | wall s (median) | client CPU s | requests | ratio to floor |",
        "|---|---:|---:|---:|---:|",
    ]
    first = results["first"][0][2]
    index_wall = median(index_complete(results))
    for key, label in (
        ("floor", "floor (bare aiohttp)"),
        ("index", "Portside first sync: index complete"),
        ("first", "Portside first sync: whole pass, new images described"),
        ("second", "Portside second sync"),
        ("serial", "serial Portus-style walk"),
    ):
        if key == "index":
            lines.append(
                f"| {label} | {index_wall:.2f} | | {first['index_requests']} "
                f"| {index_wall / floor:.2f}x |"
            )
            continue
        if key not in results:
            continue
        rows = results[key]
        wall = median([r[0] for r in rows])
        cpu = median([r[1] for r in rows])
        req = rows[0][2] if isinstance(rows[0][2], int) else rows[0][2]["requests"]
        lines.append(f"| {label} | {wall:.2f} | {cpu:.2f} | {req} | {wall / floor:.2f}x |")
    return lines


async def main_async(args: argparse.Namespace) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    cached = WORK / f"registry-{args.repositories}x{args.tags}"
    if not (cached / "data").exists():
        print(f"populating {args.repositories} x {args.tags} ...", flush=True)
        with running_registry(cached) as registry:
            await populate(registry.url, args.repositories, args.tags)
    run_root = WORK / "sync-registry-run"
    shutil.rmtree(run_root, ignore_errors=True)
    shutil.copytree(cached / "data", run_root / "data")
    with running_registry(run_root) as registry:
        print("loopback:", flush=True)
        local = await measure(registry.url, args.runs, serial=True)
        assert registry.process is not None
        cost = await registry_cost(registry.url, registry.process.pid, 800)
        port = int(registry.url.rsplit(":", 1)[1])
        async with LatencyProxy(port, 0.005) as proxy:
            print("behind a 5 ms-each-way proxy:", flush=True)
            remote = await measure(f"http://127.0.0.1:{proxy.port}", args.runs, serial=True)
        memory = peak_memory(registry.url)
    second = local["second"]
    serial_remote = median([r[0] for r in remote["serial"]])
    first_remote = median([r[0] for r in remote["first"]])
    index_remote = median(index_complete(remote))
    second_remote = median([r[0] for r in remote["second"]])
    raw = {
        f"{where} {k}": [round(r[0], 2) for r in v]
        for where, results in (("loopback", local), ("proxy", remote))
        for k, v in results.items()
    }
    body = [
        "## Registry synchronization (real registry, SQLite index)",
        "",
        f"Command: `.venv/bin/python -m bench.sync_walk --repositories {args.repositories} "
        f"--tags {args.tags} --runs {args.runs}`",
        "",
        *machine(),
        f"- Registry: Debian's docker-registry 2.8 on loopback, {args.repositories} repositories"
        f" x {args.tags} tags (distinct small images sharing a base layer), pushed through the "
        "registry API; catalog page 1000, concurrency 16 for the floor and for Portside.",
        "- Floor: catalog pages, tag lists and one HEAD per tag from a bare aiohttp script, "
        "storing nothing. First sync: into an empty index, where HEAD is replaced by a GET for "
        "tags the index does not know; *index complete* is the time (taken inside the run) "
        "until every repository, tag, digest, media type and size is stored and the deletions "
        "judged; the *whole pass* then reads one config blob per new image (platform, created) "
        "and ends. Second sync: nothing changed. Serial: Portus's walk, one GET manifest per "
        "tag, one request at a time (measured once). Medians of the runs; each first sync on a "
        "fresh database.",
        "",
        *table("loopback", local),
        "",
        *table("5 ms each way", remote),
        "",
        f"- Second sync row writes: {[r[2]['writes'] for r in second]} (target 0).",
        "- Behind the proxy, serial walk / Portside first sync: "
        f"{serial_remote / index_remote:.1f}x to a complete index (target at least 10x), "
        f"{serial_remote / first_remote:.1f}x to the end of the whole pass; serial / second "
        f"sync: {serial_remote / second_remote:.1f}x.",
        f"- Peak memory of a whole `portside sync` process (first sync, loopback): {memory:.0f} MB "
        "(target under 250 MB).",
        "",
        "- Registry CPU per request (ms; every tag of 800 repositories, each kind at "
        "concurrency 16, the registry's CPU from /proc): "
        + ", ".join(f"{kind} {ms:.2f}" for kind, ms in cost.items())
        + f". A config blob costs {cost['config blob GET'] / cost['manifest GET']:.1f}x a "
        "manifest GET: why the sync describes new images after its walk (sync/describe.py).",
        "",
        "Raw runs (wall s): `" + json.dumps(raw) + "`",
    ]
    write_section("sync_walk", "\n".join(body))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repositories", type=int, default=2000)
    parser.add_argument("--tags", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
