"""An HTTP proxy in front of the real registry that injects faults the registry cannot
produce on demand: a 500 for one repository, a catalog that breaks after its first page, a
list whose body is rewritten (names no real registry would list). Everything else is forwarded
unchanged, and every request's raw path is kept in ``seen`` (test helper)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
from aiohttp import web
from yarl import URL

HOP = {"content-length", "transfer-encoding", "connection", "content-encoding", "host"}


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        fault: Callable[[web.Request], int | None],
        rewrite: Callable[[web.Request, bytes], bytes] | None = None,
    ):
        self.upstream = upstream.rstrip("/")
        self.fault = fault  # returns a status to answer instead of forwarding, or None
        self.rewrite = rewrite  # the body to answer instead of the registry's
        self.seen: list[tuple[str, str]] = []  # (method, raw path and query)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    async def _forward(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.raw_path))
        status = self.fault(request)
        if status is not None:
            return web.json_response(
                {"errors": [{"code": "UNKNOWN", "message": "injected fault"}]}, status=status
            )
        assert self._client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        async with self._client.request(
            request.method,
            URL(self.upstream + request.raw_path, encoded=True),
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            if self.rewrite is not None and resp.status == 200:
                body = self.rewrite(request, body)
            out = {k: v for k, v in resp.headers.items() if k.lower() not in HOP}
            return web.Response(status=resp.status, body=body, headers=out)

    async def start(self, port: int) -> None:
        self._client = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()
