"""``/api/docs``: the API reference page works offline (nothing loaded from elsewhere)."""

from __future__ import annotations

import re

import aiohttp

from portside.app import create_app
from tests.integration.conftest import make_settings, serving


async def test_the_api_reference_is_served_from_this_server_only(database_url: str) -> None:
    settings = make_settings(database_url)
    async with (
        serving(create_app(settings), settings.server.port) as url,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{url}/api/docs") as resp:
            assert resp.status == 200
            page = await resp.text()
            csp = resp.headers["Content-Security-Policy"]
        async with http.get(f"{url}/api/openapi.json") as resp:
            document = await resp.json()
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    # Every operation of the document is on the page.
    for path, item in document["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in page
    # Nothing is loaded from another origin (the Swagger page took its scripts from a CDN).
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith(("/", "#")) for s in sources), sources
