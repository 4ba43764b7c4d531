"""Fixtures: real OSV records (trimmed) from tests/data/osv."""

import json
from pathlib import Path
from typing import Any

import pytest

from portside.security.advisories.osv import Advisory, parse_advisory

OSV_DATA = Path(__file__).resolve().parents[3] / "data" / "osv"


def record(name: str) -> dict[str, Any]:
    """A fixture record by file name (without ``.json``), as a fresh dict to modify."""
    data: dict[str, Any] = json.loads((OSV_DATA / f"{name}.json").read_text())
    return data


@pytest.fixture(scope="session")
def real_advisories() -> list[Advisory]:
    return [parse_advisory(record(p.stem)).advisory for p in sorted(OSV_DATA.glob("*.json"))]
