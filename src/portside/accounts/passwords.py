"""Password hashes: argon2id for new ones; Portus's bcrypt hashes verified as they are and
replaced by argon2id at the next successful login (pwdlib does both)."""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

MAX_PASSWORD = 1024  # bytes; longer offers are refused before hashing


@cache
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(), BcryptHasher()))


@cache
def _dummy() -> str:
    return _hasher().hash("portside: no such user")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify(password: str, stored: str | None) -> tuple[bool, str | None]:
    """Whether ``password`` matches ``stored``, and the hash to store instead when it does
    and ``stored`` is an older scheme or older parameters. With no stored hash a dummy hash
    is checked, so that a missing account takes as long as a wrong password."""
    if len(password.encode()) > MAX_PASSWORD:
        return False, None
    if stored is None:
        _hasher().verify(password, _dummy())
        return False, None
    try:
        return _hasher().verify_and_update(password, stored)
    except Exception:  # pwdlib raises UnknownHashError for a hash it cannot read
        _hasher().verify(password, _dummy())
        return False, None
