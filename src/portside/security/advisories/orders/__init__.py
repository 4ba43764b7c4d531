"""Version orders: each turns a version string into a sort key, or refuses it.

One module per order (``dpkg``, ``apk``, ``rpm``, ``semver``); PEP 440 comes from ``packaging``.
Parsing is cached per order (``functools.lru_cache``), so the same version string met in many
advisories or many images is parsed once. A key is only ever compared with keys of the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any, Protocol

from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version

from portside.security.advisories.orders.apk import apk_key
from portside.security.advisories.orders.dpkg import dpkg_key
from portside.security.advisories.orders.rpm import rpm_key
from portside.security.advisories.orders.semver import semver_key

__all__ = ["APK", "DPKG", "ORDERS", "PEP440", "RPM", "SEMVER", "VersionKey", "VersionOrder"]

_CACHE_SIZE = 1 << 17


class VersionKey(Protocol):
    """What the orders return: values that compare with ``<``/``<=`` within one order."""

    def __lt__(self, other: Any, /) -> bool: ...
    def __le__(self, other: Any, /) -> bool: ...


def _pep440_key(version: str) -> Pep440Version:
    try:
        return Pep440Version(version)
    except InvalidVersion as exc:
        raise ValueError(str(exc)) from exc


def _key_or_none(parse: Callable[[str], VersionKey], version: str) -> VersionKey | None:
    try:
        return parse(version)
    except (ValueError, TypeError):
        return None


class VersionOrder:
    """A named version order. ``key`` returns None for a version the order cannot read."""

    __slots__ = ("_cached", "name")

    def __init__(self, name: str, parse: Callable[[str], VersionKey]) -> None:
        self.name = name
        self._cached = lru_cache(maxsize=_CACHE_SIZE)(partial(_key_or_none, parse))

    def __repr__(self) -> str:
        return f"VersionOrder({self.name!r})"

    def key(self, version: str) -> VersionKey | None:
        """The sort key of ``version``, or None if it is not a valid version in this order."""
        return self._cached(version)

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as ``a`` sorts before, with or after ``b``; ValueError if one is invalid."""
        key_a, key_b = self.key(a), self.key(b)
        if key_a is None or key_b is None:
            bad = a if key_a is None else b
            raise ValueError(f"not a valid {self.name} version: {bad!r}")
        return -1 if key_a < key_b else (1 if key_b < key_a else 0)


DPKG = VersionOrder("dpkg", dpkg_key)
APK = VersionOrder("apk", apk_key)
RPM = VersionOrder("rpm", rpm_key)
PEP440 = VersionOrder("pep440", _pep440_key)
SEMVER = VersionOrder("semver", semver_key)

ORDERS: dict[str, VersionOrder] = {o.name: o for o in (DPKG, APK, RPM, PEP440, SEMVER)}
