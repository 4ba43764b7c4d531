"""End-to-end fixtures: the `portside` command as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PORTSIDE = str(Path(sys.executable).parent / "portside")


def portside_env(**settings: str) -> dict[str, str]:
    """The environment of a `portside` process: this one's without its PORTSIDE_* variables,
    with ``settings``. The vulnerability data sources are off unless a test turns them on: by
    default they would fetch osv.dev's archives from the internet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTSIDE_")}
    env["PORTSIDE_VULNDB__ENABLED"] = "false"
    env.update(settings)
    return env


def portside(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PORTSIDE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def push_scan_image(folder: Path, registry_url: str) -> str:
    """The scanner's test image (Debian's dpkg database, Python and npm packages, a whiteout)
    pushed as ns/app:1.0; its digest."""
    from tests.integration.test_scanning import LAYERS
    from tests.support.oci import Layout, push

    layout = Layout(folder / "layout")
    image, _ = layout.image(LAYERS)
    layout.tag(image, "1.0")
    return push(layout.path, "1.0", registry_url, "ns/app")


def osv_folder(folder: Path, *names: str) -> Path:
    """A folder of the named OSV records from tests/data/osv."""
    from tests.integration.test_scanning import DATA

    osv = folder / "osv"
    osv.mkdir()
    for name in names:
        shutil.copy(DATA / "osv" / f"{name}.json", osv)
    return osv
