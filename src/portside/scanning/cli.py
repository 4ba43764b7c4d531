"""`portside scan REF` and `portside vulndb import|status`.

Rich is imported where a table or a message is printed: `portside scan --format json` never
needs it, and a one-shot command's time is mostly imports.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portside.db import migrate
from portside.db.engine import Database
from portside.errors import ConfigError
from portside.registry.client import RegistryClient
from portside.scanning import advisories
from portside.scanning.analyze import Analyzer, limits_of, os_record, package_record
from portside.scanning.layercache import LayerCacheStore
from portside.scanning.matching import match
from portside.scanning.severity import ORDER
from portside.settings import Settings


def parse_ref(ref: str) -> tuple[str, str]:
    """``repository:tag`` or ``repository@sha256:...`` -> (repository, reference)."""
    if "@" in ref:
        repository, _, digest = ref.partition("@")
        if not digest.startswith("sha256:"):
            raise ConfigError(f"{ref!r}: a digest reference is repository@sha256:<hex>")
        return repository, digest
    repository, colon, tag = ref.rpartition(":")
    if not colon or "/" in tag:
        return ref, "latest"
    return repository, tag


async def scan_command(settings: Settings, ref: str, output: str) -> int:
    repository, reference = parse_ref(ref)
    async with Database(settings.database_url) as db:
        await migrate.wait_until_ready(db, 0)  # a command says at once what is wrong
        async with RegistryClient(settings.registry) as client:
            digest = (await client.head_manifest(repository, reference)).digest
            analyzer = Analyzer(client, LayerCacheStore(db), limits_of(settings.background.scan))
            analysis = await analyzer.analyze(repository, digest)
        packages = [package_record(p) for p in analysis.packages]
        os = os_record(analysis.os)
        async with db.read() as session:
            findings, counts = await match(session, os, packages)
    report: dict[str, Any] = {
        "repository": repository,
        "reference": reference,
        "digest": digest,
        "os": os,
        "platforms": analysis.platforms,
        "packages": packages,
        "vulnerabilities": findings,
        "severity_counts": counts,
        "notes": analysis.notes,
    }
    if output == "json":
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif output == "cyclonedx":
        from portside.scanning import sbom  # cyclonedx-python-lib is slow to import

        sys.stdout.write(sbom.render(f"{repository}@{digest}", packages, findings))
        sys.stdout.write("\n")
    else:
        _print_table(report)
    return 0


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    os = report["os"]
    console.print(
        f"[bold]{report['repository']}@{report['digest']}[/bold]  "
        f"{(os or {}).get('pretty_name') or (os or {}).get('id') or 'unknown OS'}",
        highlight=False,
    )
    packages = Table("package", "version", "type", "source", title="packages")
    for p in sorted(report["packages"], key=lambda p: (p["ecosystem"], p["name"])):
        packages.add_row(p["name"], p["version"], p["ecosystem"], p.get("source_name") or "")
    console.print(packages)
    vulns = Table("id", "severity", "package", "version", "fixed in", title="vulnerabilities")
    for f in sorted(
        report["vulnerabilities"],
        key=lambda f: (ORDER.index(f["severity"]) if f["severity"] in ORDER else 9, f["id"]),
    ):
        vulns.add_row(f["id"], f["severity"], f["package"], f["version"], f["fixed_version"] or "")
    console.print(vulns)
    counts = report["severity_counts"]
    console.print(
        ", ".join(f"{counts[k]} {k}" for k in ORDER if counts.get(k)) or "no known vulnerabilities"
    )
    for note in report["notes"]:
        console.print(f"note: {note}", highlight=False, markup=False)


async def import_command(settings: Settings, path: Path) -> int:
    from rich.console import Console

    from portside.scanning.rematch import describe_new, rematch  # not needed by `scan`

    err = Console(stderr=True)
    async with Database(settings.database_url) as db:
        await migrate.wait_until_ready(db, 0)  # a command says at once what is wrong
        now = datetime.now(UTC)
        result = await advisories.import_path(db, path, now)
        rematched = await rematch(db, now, result.changed_keys)
    err.print(
        f"imported {result.records} records ({result.changed} new or changed, "
        f"{len(result.problems)} refused); re-matched {rematched.images} images, "
        f"{rematched.changed} changed"
        + (f": {describe_new(rematched.new_findings)}" if rematched.new_findings else ""),
        highlight=False,
    )
    for problem in result.problems[:20]:
        err.print(f"refused: {problem}", highlight=False, markup=False)
    return 0


async def status_command(settings: Settings) -> int:
    async with Database(settings.database_url) as db:
        await migrate.wait_until_ready(db, 0)  # a command says at once what is wrong
        async with db.read() as session:
            state = await advisories.status(session)
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"advisories: {state.advisories} ({state.withdrawn} withdrawn)")
    console.print(f"newest record modified: {state.newest_modified or 'never'}")
    console.print(f"last import: {state.last_import or 'never'} from {state.last_source or '-'}")
    table = Table("ecosystem", "advisories")
    for ecosystem, n in state.by_ecosystem.items():
        table.add_row(ecosystem, str(n))
    console.print(table)
    return 0 if state.advisories else 1
