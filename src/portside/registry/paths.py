"""Registry API paths, built from validated, percent-quoted names only (pure).

A path is never resolved: ``evil/../team/app`` is refused here (:class:`InvalidName`) instead of
turning into ``/v2/team/app/...``. The ``Link`` of a paginated list is the registry's own
relative URL: it is accepted only on the same origin and the same endpoint, and only its query
is kept.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from portside.errors import RegistryProtocolError
from portside.index.names import check_digest, check_reference, check_repository

PING = "/v2/"
CATALOG = "/v2/_catalog"


def _repository(name: str) -> str:
    return "/".join(quote(part, safe="") for part in check_repository(name).split("/"))


def manifest(repository: str, reference: str) -> str:
    return f"/v2/{_repository(repository)}/manifests/{quote(check_reference(reference), safe=':')}"


def blob(repository: str, digest: str) -> str:
    return f"/v2/{_repository(repository)}/blobs/{quote(check_digest(digest), safe=':')}"


def uploads(repository: str) -> str:
    """Where a blob upload starts (``POST``)."""
    return f"/v2/{_repository(repository)}/blobs/uploads/"


def upload_location(target: str, base_url: str, repository: str, digest: str) -> str:
    """The ``PUT`` that completes a monolithic upload: the registry's ``Location`` (an upload
    session of this repository on the base URL's origin, nothing else) with ``digest=``."""
    base = urlsplit(base_url)
    location = urlsplit(target)
    if (location.scheme or location.netloc) and (
        location.scheme.lower() != base.scheme.lower()
        or location.netloc.lower() != base.netloc.lower()
    ):
        raise RegistryProtocolError(f"upload Location {target[:200]!r} points away from {base_url}")
    path = location.path
    prefix = base.path.rstrip("/")
    if prefix and path.startswith(prefix + "/v2/"):
        path = path[len(prefix) :]
    if not path.startswith(uploads(repository)) or has_dot_segment(path) or location.fragment:
        raise RegistryProtocolError(
            f"upload Location {target[:200]!r} leaves {uploads(repository)}"
        )
    query = [*parse_qsl(location.query, keep_blank_values=True), ("digest", check_digest(digest))]
    return f"{path}?{urlencode(query)}"


def tags(repository: str) -> str:
    return f"/v2/{_repository(repository)}/tags/list"


def with_page_size(path: str, page_size: int | None) -> str:
    return f"{path}?n={int(page_size)}" if page_size else path


def has_dot_segment(path: str) -> bool:
    """Whether a path holds a segment a URL parser would resolve (``.``, ``..``, ``%2e``)."""
    return any(
        segment.replace("%2e", ".").replace("%2E", ".") in (".", "..")
        for segment in path.partition("?")[0].split("/")
    )


def follow_link(target: str, base_url: str, endpoint: str) -> str:
    """The path and query of a ``Link: <target>; rel="next"`` of ``endpoint``.

    ``target`` may be a path (``/v2/_catalog?last=x&n=50``), with or without the base URL's own
    path prefix, or an absolute URL on the base URL's origin. Anything else (another host or
    scheme, another endpoint, a path outside /v2/) is a protocol error: the walk stops rather
    than follow it."""
    base = urlsplit(base_url)
    link = urlsplit(target)
    if (link.scheme or link.netloc) and (
        link.scheme.lower() != base.scheme.lower() or link.netloc.lower() != base.netloc.lower()
    ):
        raise RegistryProtocolError(f"Link {target[:200]!r} points away from {base_url}")
    path = link.path or endpoint
    prefix = base.path.rstrip("/")
    if prefix and path.startswith(prefix + "/v2/"):
        path = path[len(prefix) :]
    if path != endpoint or link.fragment:
        raise RegistryProtocolError(f"Link {target[:200]!r} leaves {endpoint}")
    return f"{endpoint}?{link.query}" if link.query else endpoint


def without_page_size(path: str) -> str | None:
    """The same page asked without ``n`` (so in the registry's own page size), or None when
    ``path`` asks no page size: the fallback for a registry that refuses a page size."""
    endpoint, _, query = path.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(key, value) for key, value in pairs if key != "n"]
    if len(kept) == len(pairs):
        return None
    return f"{endpoint}?{urlencode(kept)}" if kept else endpoint
