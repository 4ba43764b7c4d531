"""What both benchmarks share: ports, child processes, the machine's description, the doc."""

from __future__ import annotations

import os
import platform
import resource
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
DOC = ROOT / "docs" / "benchmarks.md"
BIN = Path(sys.executable).parent
DOC_TITLE = (
    "# Benchmarks\n\n"
    "Written by the scripts in `bench/` (each rewrites its own section between its markers).\n"
    "The machine is shared and noisy: every figure is the median of several interleaved runs.\n"
)


def free_port() -> int:
    """A free loopback port (the kernel picks it; it is free again once we close it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def portside_env(database_url: str, port: int, registry_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTSIDE_")}
    env.update(
        PORTSIDE_DATABASE_URL=database_url,
        PORTSIDE_NOTIFICATIONS__TOKENS='["s3cret"]',
        PORTSIDE_SERVER__HOST="127.0.0.1",
        PORTSIDE_SERVER__PORT=str(port),
    )
    if registry_url:
        env["PORTSIDE_REGISTRY__URL"] = registry_url
    return env


def fresh_sqlite(name: str) -> str:
    """A new, migrated SQLite database under bench/.work; returns its URL."""
    path = WORK / f"{name}.db"
    for leftover in WORK.glob(f"{name}.db*"):
        leftover.unlink()
    url = f"sqlite:///{path}"
    subprocess.run(
        [str(BIN / "portside"), "db", "upgrade"],
        env=portside_env(url, 0),
        check=True,
        capture_output=True,
        timeout=60,
    )
    return url


def sqlite_count(url: str, table: str, where: str = "") -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL after ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds all processes of the machine have used so far (every core; /proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def wait_quiet(threshold: float = 0.2, max_wait: float = 180.0, window: float = 2.0) -> float:
    """Wait (at most ``max_wait`` s) until other processes use under ``threshold`` cores over
    ``window`` s; returns the last load seen (the machine is shared)."""
    started = time.monotonic()
    while True:
        before = machine_busy()
        time.sleep(window)
        load = (machine_busy() - before) / window
        waited = time.monotonic() - started
        if load < threshold or waited >= max_wait:
            if waited > window:
                state = "quiet" if load < threshold else "still busy, running anyway"
                print(f"  (waited {waited:.0f} s for a quiet machine: {state})", flush=True)
            return load


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children (e.g. wrk after it exits)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sh(cmd: str) -> str:
    try:
        return subprocess.run(
            cmd, shell=True, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine() -> list[str]:
    """Markdown bullet lines describing the machine and the date of the run."""
    mem_kb = int(_sh("grep MemTotal /proc/meminfo").split()[1] or 0)
    model = _sh("lscpu | grep 'Model name'").split(":", 1)[-1].strip()
    dirty = " plus uncommitted changes in src/" if _sh(f"git -C {ROOT} status -s src") else ""
    return [
        f"- Date: {_sh('date -u')}",
        f"- Machine: `nproc` = {_sh('nproc')}, {model}, {mem_kb / 1024 / 1024:.1f} GiB memory; "
        f"Linux {platform.release()}; load average at start {os.getloadavg()[0]:.2f} "
        "(shared, noisy)",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; code: commit "
        f"{_sh(f'git -C {ROOT} rev-parse --short HEAD')}{dirty}",
    ]


def write_section(name: str, body: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (or append it), keep the rest."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    section = f"{start}\n{body.strip()}\n{end}"
    text = DOC.read_text() if DOC.exists() else DOC_TITLE
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
    print(f"wrote the {name} section of {DOC.relative_to(ROOT)}")


def now_utc() -> datetime:
    return datetime.now(UTC)
