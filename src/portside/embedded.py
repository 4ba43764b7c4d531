"""The embedded default (``portside run`` with no ``registry.url``): what it started, where.

``portside run`` records the local registry's URL and Portside's own in
``<data_dir>/embedded.json`` (0600) once both listen; the other commands run in the same
directory (``sync``, ``scan``, ``delete``, ``gc``, ``registry-config``) read it when no
registry is configured, and say where they found it. Before starting anything, ``run`` checks
that the ports it is about to use are free: a registry already listening on the port would
otherwise be indexed in place of the one Portside starts (its notifications go elsewhere).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

from portside.errors import ConfigError
from portside.private import write_private

STATE = "embedded.json"
TOKEN_FILE = "webhook-token"  # noqa: S105 (a file name)


@dataclass(frozen=True)
class Embedded:
    """What a running (or last run) embedded default left in its data folder."""

    registry_url: str
    portside_url: str
    token: str | None
    source: Path  # the state file, to say where it came from


def port_in_use(host: str, port: int) -> bool:
    """True if something already listens on ``host:port`` (a bind there fails)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_registry_port(host: str, port: int) -> None:
    """Refuse, naming the setting, if the local registry's port is taken."""
    if port_in_use(host, port):
        raise ConfigError(
            f"registry.local_port: {host}:{port} is already in use, so the local registry "
            "cannot start there (and Portside would index whatever listens on it); choose "
            "another port (PORTSIDE_REGISTRY__LOCAL_PORT) or set registry.url to that registry"
        )


def check_server_port(host: str, port: int) -> None:
    """Refuse, naming the setting, if Portside's own port is taken."""
    if port_in_use(host, port):
        raise ConfigError(
            f"server.port: {host}:{port} is already in use; choose another port "
            "(PORTSIDE_SERVER__PORT)"
        )


def record(data_dir: Path, registry_url: str, portside_url: str) -> Path:
    path = data_dir / STATE
    write_private(
        path, json.dumps({"registry_url": registry_url, "portside_url": portside_url}) + "\n"
    )
    return path


def token(data_dir: Path) -> str | None:
    path = data_dir / TOKEN_FILE
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return value or None


def find(data_dir: Path) -> Embedded | None:
    """The embedded default recorded in ``data_dir``, if any (a damaged file is an error)."""
    path = data_dir / STATE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(raw)
        registry_url, portside_url = str(data["registry_url"]), str(data["portside_url"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is damaged: delete it and run `portside run` again") from exc
    if not registry_url.startswith("http://127."):
        raise ConfigError(f"{path} names a registry that is not a local one: {registry_url!r}")
    return Embedded(registry_url, portside_url, token(data_dir), path)
