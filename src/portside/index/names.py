"""Repository names, tags, digests and their namespaces (pure).

Every check is a ``fullmatch`` of a pattern without ``$`` (which would let a trailing newline
through a plain ``match``), over ASCII classes only: NUL, control and bidi characters, upper
case in a repository, ``..``, ``%2e`` and every other percent-escape can never match.
"""

from __future__ import annotations

import re

# The distribution spec's repository name grammar.
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
MAX_REPOSITORY = 255
TAG_NAME = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# The digests a registry computes: the algorithm and its lowercase hex of the right length.
DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}")
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
    return DIGEST.fullmatch(digest) is not None
