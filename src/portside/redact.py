"""Credentials out of URLs before they are shown: in ``GET /api/v1/status``, the webhooks API,
error texts. A URL keeps its scheme, host, port and path; the password of its user part (or a
lone user part, often a token) and the values of query parameters that look like secrets become
``***``."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_PARAM = re.compile(
    r"token|secret|passw|pwd|key|sig|auth|cred|session|code|private", re.IGNORECASE
)
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]{}]+")


def redact_url(url: str) -> str:
    """``https://user:pass@host/p?token=t&x=1`` -> ``https://user:***@host/p?token=***&x=1``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK  # not a URL this can take apart: show nothing of it
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(name) for name, _ in pairs):
            query = urlencode(
                [(n, MASK if _SECRET_PARAM.search(n) else v) for n, v in pairs], safe="*"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Every URL inside a free text (an error message, say) redacted."""
    return _URL_IN_TEXT.sub(lambda found: redact_url(found.group(0)), text)
