"""Sending one delivery: the only module that talks to webhook targets.

Each request carries ``X-Portside-Event``, ``X-Portside-Delivery`` and
``X-Portside-Signature-256: sha256=<hex HMAC-SHA256 of the body with the webhook's secret>``;
receivers compare it in constant time. A webhook brought from Portus may also choose the
method, the content type, basic auth and extra headers (its ``Shape``). Answers are read up
to a bound, and every attempt has a timeout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

from portside import USER_AGENT
from portside.lifecycle import Resource

MAX_RESPONSE = 4096


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Shape:
    """How a webhook's request is made (Portside's own webhooks use the defaults)."""

    method: str = "POST"
    content_type: str = "application/json"
    username: str | None = None
    password: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


PLAIN = Shape()


def basic_auth(shape: Shape) -> dict[str, str]:
    """The Authorization header of a shape with a user name (RFC 7617), else nothing."""
    if not shape.username:
        return {}
    pair = f"{shape.username}:{shape.password or ''}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


@dataclass(frozen=True)
class Attempt:
    status: int | None  # None: no answer
    response: str | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Sender(Resource):
    def __init__(self, timeout: float):
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=self.timeout, headers={"User-Agent": USER_AGENT}
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        url: str,
        secret: str,
        kind: str,
        delivery: int,
        body: bytes,
        shape: Shape = PLAIN,
    ) -> Attempt:
        assert self._session is not None
        headers = {
            **shape.headers,
            **basic_auth(shape),
            "Content-Type": shape.content_type,
            "X-Portside-Event": kind,
            "X-Portside-Delivery": str(delivery),
            "X-Portside-Signature-256": signature(secret, body),
        }
        try:
            async with self._session.request(shape.method, url, data=body, headers=headers) as resp:
                text = (await resp.content.read(MAX_RESPONSE)).decode("utf-8", "replace")
                return Attempt(resp.status, text, None)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Attempt(None, None, f"{type(exc).__name__}: {exc}")
