"""Who the client is: the address the login throttle counts and the logs name.

It is the connection's peer, unless the peer is one of ``server.trusted_proxies``: then it is
what that proxy says in ``X-Forwarded-For`` (and ``X-Forwarded-Proto`` sets the scheme).
uvicorn's proxy-headers middleware does the rewriting, configured by :func:`proxy_options`
from the settings alone: uvicorn's own default (headers believed from 127.0.0.1, or from the
``FORWARDED_ALLOW_IPS`` environment variable) is never used, so a forged header from any
local process cannot move a failed login's count to another address. Every reader of the
address takes it from :func:`client_address`, which reads what the middleware left.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from portside.settings import ServerSettings

IGNORED_ENVIRONMENT = "FORWARDED_ALLOW_IPS"


def proxy_options(server: ServerSettings) -> dict[str, Any]:
    """uvicorn's ``proxy_headers`` and ``forwarded_allow_ips`` for these settings: off
    without trusted proxies (no forwarded header is read at all), else exactly those
    addresses and networks (validated at start: :func:`portside.settings.proxy_network`)."""
    proxies = list(server.trusted_proxies)
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies}


def client_address(request: Request) -> str | None:
    """The client's address (the peer's, or a trusted proxy's client's); None when the
    server does not know it."""
    return request.client.host if request.client else None
