"""Which distribution an image is: ``os-release``, with Debian's ``debian_version`` as fallback."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from portside.security.analysis.files import MergedFile
from portside.security.packages import OsRelease

OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
DEBIAN_VERSION = "etc/debian_version"
PATHS = frozenset((*OS_RELEASE, DEBIAN_VERSION))


def wants(path: str) -> bool:
    return path in PATHS


def parse_os_release(text: str) -> dict[str, str]:
    """The ``KEY=value`` lines of an os-release file, shell quoting removed."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw, comments=False, posix=True)
            value = " ".join(words)
        except ValueError:  # an unbalanced quote: take the text as written
            value = raw.strip("\"'")
        fields[key.strip()] = value
    return fields


def detect(files: Mapping[str, MergedFile]) -> OsRelease | None:
    """The distribution of the merged ``files``, or ``None`` when nothing says."""
    fields: dict[str, str] = {}
    for path in OS_RELEASE:
        if path in files:
            fields = parse_os_release(files[path].content.decode("utf-8", "replace"))
            break
    debian = files.get(DEBIAN_VERSION)
    distro_id = fields.get("ID", "").strip().lower() or ("debian" if debian else "")
    if not distro_id:
        return None
    version_id = fields.get("VERSION_ID") or None
    codename = fields.get("VERSION_CODENAME") or None
    if distro_id == "debian" and debian is not None and not version_id:
        version_id, codename = _debian_version(debian.content, codename)
    return OsRelease(
        id=distro_id,
        version_id=version_id,
        version_codename=codename,
        pretty_name=fields.get("PRETTY_NAME") or None,
        id_like=tuple(fields.get("ID_LIKE", "").lower().split()),
    )


def _debian_version(content: bytes, codename: str | None) -> tuple[str | None, str | None]:
    """``12.5`` -> release 12; ``trixie/sid`` (testing, unstable) -> no number, a codename."""
    text = content.decode("ascii", "replace").strip()
    if match := re.fullmatch(r"(\d+)(\.\d+)*", text):
        return match.group(1), codename
    if "/" in text:
        return None, codename or text.split("/", 1)[0] or None
    return None, codename
