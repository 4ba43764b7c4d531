"""The command line as a client of a running Portside's JSON API (`portside scan --server`).

A short command that asks a server needs none of the database layer nor the async HTTP
stack: this is one blocking request with the standard library's :mod:`urllib`, its answer
read up to a bound, every failure a :class:`~portside.errors.ApiClientError` that says what to
fix (the address, the token, or what the server refused and why).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from portside.errors import ApiClientError

MAX_RESPONSE_BYTES = 256 * 1024 * 1024  # a report of a very large image is a few MiB


def _message(body: bytes) -> str:
    """The server's ``{"error": {"message": ...}}``, or the start of whatever it sent."""
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace").strip() or "no details"


def _read(response: Any, limit: int) -> bytes:
    body: bytes = response.read(limit + 1)
    if len(body) > limit:
        raise ApiClientError(f"the server's answer is larger than {limit} bytes")
    return body


def request_scan(
    server: str,
    token: str | None,
    ref: str,
    *,
    reuse: bool = True,
    timeout: float = 900.0,
    limit: int = MAX_RESPONSE_BYTES,
) -> dict[str, Any]:
    """``POST {server}/api/v1/scans`` for ``ref``; the server's scan report."""
    url = server.rstrip("/") + "/api/v1/scans"
    if not url.startswith(("http://", "https://")):
        raise ApiClientError(f"--server {server!r}: an http:// or https:// address")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"reference": ref, "reuse": reuse}).encode()
    # The scheme is checked above: urllib would also open file: and ftp: addresses.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = _read(response, limit)
    except urllib.error.HTTPError as exc:
        with exc:
            detail = _message(_read(exc, 64 * 1024))
        hint = " (give it with --token or PORTSIDE_API_TOKEN)" if exc.code == 401 else ""
        raise ApiClientError(f"{url}: {exc.code}: {detail}{hint}", status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiClientError(f"cannot reach Portside at {server}: {reason}") from exc
    try:
        report = json.loads(answer)
    except ValueError as exc:
        raise ApiClientError(f"{url}: the answer is not JSON: {exc}") from exc
    if not isinstance(report, dict) or not isinstance(report.get("packages"), list):
        raise ApiClientError(f"{url}: the answer is not a scan report")
    return report
