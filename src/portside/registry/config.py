"""The ``notifications:`` part of the registry's config.yml that points it at Portside (pure)."""

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


def render(portside_url: str, token: str | None) -> str:
    return yaml.safe_dump(notifications(portside_url, token), sort_keys=False)
