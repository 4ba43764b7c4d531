"""A TCP proxy on loopback that delays every chunk by a fixed time in each direction, as a
registry across a network would (throughput is not throttled; order is kept)."""

from __future__ import annotations

import asyncio
import contextlib
import time


class LatencyProxy:
    def __init__(self, upstream_port: int, delay: float):
        self.upstream_port = upstream_port
        self.delay = delay
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay, data))
            queue.put_nowait((time.monotonic() + self.delay, b""))

        async def write() -> None:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            with contextlib.suppress(OSError):
                writer.write_eof()

        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await asyncio.gather(read(), write())

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(self._pump(client_r, up_w), self._pump(up_r, client_w))
        except asyncio.CancelledError:
            pass
        finally:
            for w in (client_w, up_w):
                w.close()

    async def __aenter__(self) -> LatencyProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)
