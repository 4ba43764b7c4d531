"""The parts of the registry's config.yml that point it at Portside (pure): ``notifications:``
(the webhook) and ``auth: token:`` (Portside as its token server)."""

from __future__ import annotations

from typing import Any

import yaml

WEBHOOK_PATH = "/v2/webhooks/events"


def notifications(
    portside_url: str, token: str | None, *, name: str = "portside", timeout: str = "2s"
) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "name": name,
        "url": portside_url.rstrip("/") + WEBHOOK_PATH,
        "timeout": timeout,
        "threshold": 5,
        "backoff": "1s",
        # Layer uploads are of no use to the index; the registry need not send them.
        "ignoredmediatypes": ["application/octet-stream"],
    }
    if token:
        endpoint["headers"] = {"Authorization": [f"Bearer {token}"]}
    return {"notifications": {"events": {"includereferences": True}, "endpoints": [endpoint]}}


def token_auth(*, realm: str, service: str, issuer: str, rootcertbundle: str) -> dict[str, Any]:
    """``auth: token:``: the registry sends clients to ``realm`` for tokens, and accepts the
    tokens signed by the key of the certificate in ``rootcertbundle`` for ``service``."""
    return {
        "auth": {
            "token": {
                "realm": realm,
                "service": service,
                "issuer": issuer,
                "rootcertbundle": rootcertbundle,
            }
        }
    }


def render(portside_url: str, token: str | None, auth: dict[str, Any] | None = None) -> str:
    """The fragment: ``auth`` (from :func:`token_auth`; None: the registry keeps its own
    authentication) and the notifications."""
    config: dict[str, Any] = dict(auth or {})
    config.update(notifications(portside_url, token))
    return yaml.safe_dump(config, sort_keys=False)
