"""Webhook ingest: events/s and latency of ``POST /v2/webhooks/events``, storing vs. 202-only.

``python -m bench.webhook_ingest`` (from the repository root). Each run starts a server on a
fresh, migrated SQLite database and drives it with wrk (bench/webhook_ingest.lua: one push
event per request, every id unique): a warm-up, then a measured run. "storing" is the real
``portside serve``; "202-only" is bench/noop_server.py (the same app, ``submit`` answering at
once). "big repository" is ``portside run`` (serve and the background tasks in one process)
on a database holding one repository of 20,000 tags (inserted by SQL into the migrated
schema), sent pulls of that repository's tags, which the events task processes meanwhile.
The variants run interleaved; the figures are medians. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    BIN,
    ROOT,
    WORK,
    children_cpu,
    cpu_seconds,
    free_port,
    fresh_sqlite,
    machine,
    machine_busy,
    median,
    portside_env,
    sqlite_count,
    stop,
    wait_http,
    wait_quiet,
    write_section,
)

LUA = Path(__file__).with_suffix(".lua")
VARIANTS = {
    "storing": "`portside serve`",
    "noop": "202-only (`bench/noop_server.py`)",
    "big": "`portside run`, one repository of 20,000 tags, its pulls processed meanwhile",
}
TARGET_RATE, TARGET_P99_MS, TARGET_RATIO = 3000, 20.0, 0.5
BIG_TAGS, TARGET_BIG_P99_MS = 20_000, 50.0


def fill_big_repository(db_url: str, tags: int = BIG_TAGS) -> None:
    """One repository, big/app, of ``tags`` tags t0.. (10 per digest), by SQL on the migrated
    schema (the ORM's types store datetimes on SQLite as naive UTC text)."""
    at = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.execute(
            "INSERT INTO registries (name, url, created_at) VALUES ('default', ?, ?)",
            ("http://127.0.0.1:9", at),
        )
        conn.execute(
            "INSERT INTO namespaces (registry_id, name, created_at) VALUES (1, 'big', ?)", (at,)
        )
        conn.execute(
            "INSERT INTO repositories (registry_id, namespace_id, name, created_at, updated_at) "
            "VALUES (1, 1, 'big/app', ?, ?)",
            (at, at),
        )
        media = "application/vnd.oci.image.manifest.v1+json"
        conn.executemany(
            "INSERT INTO tags (repository_id, name, digest, media_type, size, platforms, "
            "described, author, pushed_at, scan_state, source_at, created_at, updated_at) "
            "VALUES (1, ?, ?, ?, 1000, '[]', 1, 'ci', ?, 'pending', ?, ?, ?)",
            [(f"t{n}", f"sha256:{n // 10:064x}", media, at, at, at, at) for n in range(tags)],
        )


def wrk(
    url: str, args: argparse.Namespace, seconds: float, nonce: int, out: Path, mode: str = "push"
) -> dict:
    """Run wrk once; its Lua ``done()`` prints one ``BENCH {json}`` line (latencies in us)."""
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency"]
    cmd += ["--timeout", "5s", "-s", str(LUA), url, "--", str(nonce), mode]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    out.write_text(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no BENCH line (exit {proc.returncode}); see {out}")
    data = json.loads(line.removeprefix("BENCH "))
    data["seconds"] = data["duration_us"] / 1e6
    data["ok"] = data["requests"] - data["status"]  # wrk counts status >= 400 as errors
    data["rate"] = data["ok"] / data["seconds"]  # one event per request
    data["socket_errors"] = sum(data[k] for k in ("connect", "read", "write", "timeout"))
    return data


def run_once(variant: str, index: int, args: argparse.Namespace) -> dict:
    name = f"ingest-{variant}-{index}"
    db_url = fresh_sqlite(name)
    port = free_port()
    env = portside_env(db_url, port)
    mode = "push"
    if variant == "big":
        fill_big_repository(db_url)
        mode = "big"
        # Serve and the background tasks in one process; only the events task has work (the
        # pulls need no registry: nothing listens at registry.url).
        env.update(
            PORTSIDE_REGISTRY__URL="http://127.0.0.1:9",
            PORTSIDE_BACKGROUND__SYNC__ENABLED="false",
            PORTSIDE_BACKGROUND__SCAN__ENABLED="false",
        )
    wait_quiet()
    if variant == "storing":
        cmd = [str(BIN / "portside"), "serve"]
    elif variant == "big":
        cmd = [str(BIN / "portside"), "run"]
    else:
        cmd = [sys.executable, "-m", "bench.noop_server"]
    url = f"http://127.0.0.1:{port}"
    proc = None
    with (WORK / f"{name}.log").open("wb") as log:
        try:
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, cwd=ROOT)
            wait_http(f"{url}/healthz", 30, proc)
            nonce = random.randrange(2**30)
            warm = wrk(url, args, args.warmup, nonce, WORK / f"{name}.warm", mode)
            before = (cpu_seconds(proc.pid), children_cpu(), machine_busy())
            nonce = 2**30 + random.randrange(2**30)
            result = wrk(url, args, args.duration, nonce, WORK / name, mode)
            after = (cpu_seconds(proc.pid), children_cpu(), machine_busy())
            server, wrk_cpu, busy = (a - b for a, b in zip(after, before, strict=True))
            result["cpu"] = server / result["seconds"]
            result["others"] = (busy - server - wrk_cpu) / result["seconds"]
        finally:
            stop(proc)
    result["answered"] = warm["ok"] + result["ok"]
    result["rows"] = sqlite_count(db_url, "registry_events")
    result["processed"] = sqlite_count(db_url, "registry_events", "WHERE status = 'done'")
    print(
        f"  {variant:8} run {index}: {result['rate']:8.0f} events/s, "
        f"p50 {result['p50'] / 1000:6.2f} ms, p99 {result['p99'] / 1000:6.2f} ms, "
        f"server CPU {result['cpu']:.2f}, others {result['others']:.2f} cores, "
        f"rows {result['rows']} / 202s {result['answered']}",
        flush=True,
    )
    return result


def ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def report(runs: dict[str, list[dict]], args: argparse.Namespace, header: list[str]) -> str:
    med = {v: {k: median([r[k] for r in rs]) for k in rs[0]} for v, rs in runs.items()}
    storing, noop, big = med["storing"], med["noop"], med["big"]
    ratio = storing["rate"] / noop["rate"]
    pairs = [s["rate"] / n["rate"] for s, n in zip(runs["storing"], runs["noop"], strict=True)]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    lines = [
        "## Webhook ingest (`POST /v2/webhooks/events`, SQLite)",
        "",
        "Command (from the repository root): `.venv/bin/python -m bench.webhook_ingest`",
        "",
        *header,
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency` "
        f"with `bench/webhook_ingest.lua` (one push event per request, every event id unique), "
        f"after a {args.warmup} s warm-up on the same server; {args.runs} runs per variant, "
        "interleaved, each on a fresh migrated SQLite database and a fresh server process.",
        "- Variants: **storing** is the real `portside serve` (group commit into "
        "`registry_events`); **202-only** is `bench/noop_server.py`: the same `create_app` and "
        "uvicorn options, its lifespan wrapped so that after the real services open, "
        "`services.ingestor.submit` is replaced by an `async def` returning `Stored(len(rows))`. "
        "Auth, body read, parsing, classifying and row building still run.",
        "- wrk is closed-loop (16 requests always outstanding), so latencies are those of a "
        "saturated server, and wrk shares the 2 cores with the server. Before each run the "
        "script waits (at most 180 s) until other processes use under 0.2 cores.",
        "",
        "- **big repository** is `portside run` (the server and the background tasks in one "
        f"process, sync and scan off) on a database holding one repository, `big/app`, of "
        f"{BIG_TAGS:,} tags (inserted by SQL into the migrated schema); wrk sends pulls of "
        "random tags of it (`webhook_ingest.lua` mode `big`), which the events task processes "
        "while the webhook stores the next ones (pulls need no registry). Processed: events "
        "`done` when the server stopped, of the rows stored.",
        "",
        f"| median of {args.runs} | storing | 202-only | storing / 202-only | big repository |",
        "|---|---:|---:|---:|---:|",
        f"| events/s | {storing['rate']:.0f} | {noop['rate']:.0f} | {ratio:.2f} (pairs of "
        f"interleaved runs: {min(pairs):.2f} to {max(pairs):.2f}) | {big['rate']:.0f} |",
    ]
    for key, label in (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9")):
        lines.append(
            f"| {label} latency (ms) | {ms(storing[key])} | {ms(noop[key])} | | {ms(big[key])} |"
        )
    lines += [
        f"| server CPU (cores busy) | {storing['cpu']:.2f} | {noop['cpu']:.2f} | | "
        f"{big['cpu']:.2f} |",
        f"| events processed (done) of rows stored | | | | {big['processed']:.0f} of "
        f"{big['rows']:.0f} |",
        "",
        f"- Target ≥ {TARGET_RATE} events/s on SQLite: {storing['rate']:.0f}, "
        f"{verdict(storing['rate'] >= TARGET_RATE)}.",
        f"- Target p99 < {TARGET_P99_MS:.0f} ms: {ms(storing['p99'])} ms, "
        f"{verdict(storing['p99'] / 1000 < TARGET_P99_MS)}.",
        f"- Target ratio storing / 202-only ≥ {TARGET_RATIO}: {ratio:.2f}, "
        f"{verdict(ratio >= TARGET_RATIO)}.",
        f"- Target p99 < {TARGET_BIG_P99_MS:.0f} ms with a {BIG_TAGS:,}-tag repository's events "
        f"processed meanwhile: {ms(big['p99'])} ms, "
        f"{verdict(big['p99'] / 1000 < TARGET_BIG_P99_MS)}.",
        "- Before issue 10's change (commit 91489ab: the repository's whole tag list loaded "
        "per event), one 8 s run of the big-repository case measured 12 events/s, p50 111 ms, "
        "p99 4.82 s (30 Nov 2026, same machine).",
        "",
        "Every run (rows: `registry_events` rows after the server stopped; 202s: answers wrk "
        "received, warm-up included; rows above 202s are requests in flight when wrk stopped, "
        f"at most {args.connections} per wrk invocation; others' CPU: cores used by processes "
        "other than the server and wrk, a measure of the noise):",
        "",
        "| variant | run | events/s | p50 ms | p99 ms | p99.9 ms | max ms | non-202 | "
        "socket errors | server CPU | others' CPU | rows | 202s | processed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant, results in runs.items():
        for i, r in enumerate(results, 1):
            rows = f"{r['rows']} | {r['answered']} | {r['processed']}"
            lines.append(
                f"| {variant} | {i} | {r['rate']:.0f} | {ms(r['p50'])} | {ms(r['p99'])} | "
                f"{ms(r['p999'])} | {ms(r['max'])} | {r['status']} | {r['socket_errors']} | "
                f"{r['cpu']:.2f} | {r['others']:.2f} | {rows} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--no-write", action="store_true", help="print only, no docs update")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    header = machine()
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for index in range(1, max(1, min(args.runs, 20)) + 1):
        # Alternate which variant goes first, so a drift in the machine's load is shared.
        order = list(VARIANTS) if index % 2 else list(reversed(VARIANTS))
        for variant in order:
            runs[variant].append(run_once(variant, index, args))
    text = report(runs, args, header)
    print(text)
    if not args.no_write:
        write_section("webhook_ingest", text)


if __name__ == "__main__":
    main()
