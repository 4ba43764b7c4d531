"""A local registry: Debian's ``docker-registry`` (distribution 2.8) run as a child process.

``portside run`` starts one when no registry is configured, with its notifications pointed at
Portside; the test suite starts its own the same way.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from portside.errors import ConfigError, RegistryUnavailable
from portside.private import open_private_log, write_private
from portside.registry.config import notifications

log = logging.getLogger(__name__)

BINARY = "docker-registry"


@dataclass
class LocalRegistryConfig:
    root: Path
    host: str = "127.0.0.1"
    port: int = 5000
    notify_url: str | None = None  # Portside's base URL
    notify_token: str | None = None
    htpasswd: Path | None = None
    token_auth: dict[str, str] | None = None  # realm, service, issuer, rootcertbundle
    catalog_max_entries: int = 1000
    delete_enabled: bool = True
    tls: tuple[Path, Path] | None = None  # certificate and key (PEM): serve HTTPS
    extra: dict[str, Any] = field(default_factory=dict)
    # Signs the registry's upload state: a fixed, published value would let anyone forge it.
    http_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "fields": {"service": "registry"}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "data")},
                "delete": {"enabled": self.delete_enabled},
                "cache": {"blobdescriptor": "inmemory"},
            },
            "http": {"addr": f"{self.host}:{self.port}", "secret": self.http_secret},
            "catalog": {"maxentries": self.catalog_max_entries},
        }
        if self.tls is not None:
            config["http"]["tls"] = {"certificate": str(self.tls[0]), "key": str(self.tls[1])}
        if self.htpasswd is not None:
            config["auth"] = {"htpasswd": {"realm": "portside", "path": str(self.htpasswd)}}
        elif self.token_auth is not None:
            config["auth"] = {"token": dict(self.token_auth)}
        if self.notify_url:
            config.update(notifications(self.notify_url, self.notify_token))
        config.update(self.extra)
        return config


class LocalRegistry:
    """``with LocalRegistry(config) as registry: ...``: started, ready, then stopped."""

    def __init__(self, config: LocalRegistryConfig, *, binary: str = BINARY):
        self.config = config
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.config.url

    def start(self, ready_timeout: float = 20.0) -> None:
        path = shutil.which(self.binary)
        if path is None:
            raise ConfigError(
                f"{self.binary} is not installed: `apt-get install docker-registry`, "
                "or set registry.url to your registry"
            )
        self.config.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        config_file = self.config.root / "config.yml"
        # It holds the webhook token and the registry's HTTP secret: owner only.
        write_private(config_file, yaml.safe_dump(self.config.render(), sort_keys=False))
        log_fd = open_private_log(self.config.root / "registry.log")
        try:
            self.process = subprocess.Popen(
                [path, "serve", str(config_file)],
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(log_fd)
        self.wait_ready(ready_timeout)
        log.info("local registry listening on %s (pid %d)", self.url, self.process.pid)

    def wait_ready(self, timeout: float) -> None:
        # Our own child on loopback: that it answers is the question, not who signed it.
        context = ssl.create_default_context() if self.config.tls else None
        if context is not None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = (self.config.root / "registry.log").read_text(errors="replace")[-2000:]
                raise RegistryUnavailable(f"the local registry exited at start:\n{tail}")
            try:
                with urllib.request.urlopen(self.url + "/v2/", timeout=1, context=context):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return  # 401 under auth: it answers
            except OSError:
                time.sleep(0.05)
        raise RegistryUnavailable(f"the local registry did not answer on {self.url}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LocalRegistry:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
