"""A real HTTP server on loopback that serves OSV archives the way osv.dev's bucket does
(ETag, Last-Modified, 304 on a matching If-None-Match), built at test time from the real
records in ../shared/realosv/osv (never copied into the repository). It can be told to answer
500 or to cut a body short, faults a healthy server does not produce on demand."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.realosv import real_osv


def real_record(advisory_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((real_osv() / f"{advisory_id}.json").read_text())
    return data


def real_ids(ecosystem: str, limit: int) -> list[str]:
    """The first ``limit`` real records (by id) naming ``ecosystem``."""
    found = []
    for path in sorted(real_osv().glob("*.json")):
        record = json.loads(path.read_text())
        if any(
            a.get("package", {}).get("ecosystem") == ecosystem for a in record.get("affected", [])
        ):
            found.append(record["id"])
        if len(found) == limit:
            break
    return found


def build_zip(records: Iterable[dict[str, Any]]) -> bytes:
    """An osv.dev-style all.zip: one ``{id}.json`` member per record."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buffer.getvalue()


@dataclass
class Served:
    body: bytes
    etag: str
    last_modified: str


@dataclass
class ArchiveServer:
    url: str
    files: dict[str, Served] = field(default_factory=dict)
    fault: str | None = None  # "500" or "truncate"
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def put(self, path: str, body: bytes) -> str:
        """Serve ``body`` at ``path``; its URL."""
        digest = hashlib.sha256(body).hexdigest()[:16]
        self.files[path] = Served(body, f'"{digest}"', formatdate(usegmt=True))
        return f"{self.url}{path}"

    def gets(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


@contextmanager
def archive_server() -> Iterator[ArchiveServer]:
    state: ArchiveServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            served = state.files.get(self.path)
            if state.fault == "500":
                self.send_error(500, "the archive server broke")
                return
            if served is None:
                self.send_error(404)
                return
            if self.headers.get("If-None-Match") == served.etag:
                self.send_response(304)
                self.send_header("ETag", served.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(served.body)))
            self.send_header("ETag", served.etag)
            self.send_header("Last-Modified", served.last_modified)
            self.end_headers()
            if state.fault == "truncate":
                self.wfile.write(served.body[: len(served.body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(served.body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = ArchiveServer(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_archive(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.write_bytes(build_zip(records))
    return path
