"""Sending one delivery: the only module that talks to webhook targets.

Each request carries ``X-Portside-Event``, ``X-Portside-Delivery`` and
``X-Portside-Signature-256: sha256=<hex HMAC-SHA256 of the body with the webhook's secret>``;
receivers compare it in constant time. Answers are read up to a bound, and every attempt has
a timeout.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import aiohttp

from portside import USER_AGENT
from portside.lifecycle import Resource

MAX_RESPONSE = 4096


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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

    async def send(self, url: str, secret: str, kind: str, delivery: int, body: bytes) -> Attempt:
        assert self._session is not None
        headers = {
            "Content-Type": "application/json",
            "X-Portside-Event": kind,
            "X-Portside-Delivery": str(delivery),
            "X-Portside-Signature-256": signature(secret, body),
        }
        try:
            async with self._session.post(url, data=body, headers=headers) as resp:
                text = (await resp.content.read(MAX_RESPONSE)).decode("utf-8", "replace")
                return Attempt(resp.status, text, None)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Attempt(None, None, f"{type(exc).__name__}: {exc}")
