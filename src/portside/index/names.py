"""Repository names, tags and digests: the distribution grammar, and namespaces (pure).

Every name that comes from outside (the registry's catalog and tag lists, a webhook event, the
API, the command line) is checked here before it is stored or becomes part of a registry URL.
The grammars are ASCII-only and matched whole (``fullmatch``), so NUL, control and bidi
characters, ``..``, ``%2e``, upper case in a repository and a trailing newline are all refused.
"""

from __future__ import annotations

import re

from portside.errors import InvalidName

# The distribution spec's repository name grammar: path components of lower-case alphanumerics
# joined by one separator (".", "_", "__" or dashes), components joined by "/".
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_NAME = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# Digests as registries compute them (go-digest's algorithms), in the exact form of each: the
# OCI grammar allows other algorithms, but no registry produces them and nothing may invent one.
DIGESTS = {
    "sha256": re.compile(r"[a-f0-9]{64}"),
    "sha384": re.compile(r"[a-f0-9]{96}"),
    "sha512": re.compile(r"[a-f0-9]{128}"),
}
NAMESPACE_NAME = re.compile(_COMPONENT)
MAX_REPOSITORY = 255
GLOBAL_NAMESPACE = ""


def namespace_of(repository: str) -> str:
    """The part before the first "/", or the registry's global namespace."""
    head, slash, _ = repository.partition("/")
    return head if slash else GLOBAL_NAMESPACE


def is_valid_repository(name: str) -> bool:
    return len(name) <= MAX_REPOSITORY and REPOSITORY_NAME.fullmatch(name) is not None


def is_valid_tag(name: str) -> bool:
    return TAG_NAME.fullmatch(name) is not None


def is_valid_digest(digest: str) -> bool:
    """``algorithm:hex``: sha256, sha384 or sha512, in lower-case hex of their exact length."""
    algorithm, colon, encoded = digest.partition(":")
    exact = DIGESTS.get(algorithm)
    return bool(colon) and exact is not None and exact.fullmatch(encoded) is not None


def is_valid_reference(reference: str) -> bool:
    """A manifest reference: a tag or a digest."""
    return is_valid_digest(reference) if ":" in reference else is_valid_tag(reference)


def shown(name: str, limit: int = 80) -> str:
    """A name as it may appear in a message or a log line: escaped and bounded."""
    return repr(name[:limit]) + ("..." if len(name) > limit else "")


def check_repository(name: str) -> str:
    if not is_valid_repository(name):
        raise InvalidName(
            f"{shown(name)} is not a valid repository name (at most {MAX_REPOSITORY} "
            "characters: lower-case letters and digits, components joined by . _ __ - "
            "and by /)"
        )
    return name


def check_tag(name: str) -> str:
    if not is_valid_tag(name):
        raise InvalidName(
            f"{shown(name)} is not a valid tag (at most 128 letters, digits, _ . -, "
            "not starting with . or -)"
        )
    return name


def check_digest(digest: str) -> str:
    if not is_valid_digest(digest):
        raise InvalidName(
            f"{shown(digest)} is not a valid digest (algorithm:hex, e.g. sha256:<64 hex digits>)"
        )
    return digest


def check_reference(reference: str) -> str:
    return check_digest(reference) if ":" in reference else check_tag(reference)


def is_valid_namespace(name: str) -> bool:
    """A namespace: one path component (the global namespace "" is not a name one types)."""
    return len(name) <= MAX_REPOSITORY and NAMESPACE_NAME.fullmatch(name) is not None


def check_namespace(name: str) -> str:
    if not is_valid_namespace(name):
        raise InvalidName(
            f"{shown(name)} is not a valid namespace (at most {MAX_REPOSITORY} lower-case "
            "letters and digits, joined by . _ __ -)"
        )
    return name
