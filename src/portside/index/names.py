"""Repository names and their namespaces (pure)."""

from __future__ import annotations

import re

# The distribution spec's repository name grammar.
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_NAME = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
GLOBAL_NAMESPACE = ""


def namespace_of(repository: str) -> str:
    """The part before the first "/", or the registry's global namespace."""
    head, slash, _ = repository.partition("/")
    return head if slash else GLOBAL_NAMESPACE


def is_valid_repository(name: str) -> bool:
    return len(name) <= 255 and REPOSITORY_NAME.fullmatch(name) is not None


def is_valid_tag(name: str) -> bool:
    return TAG_NAME.fullmatch(name) is not None
