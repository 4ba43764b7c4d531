"""Password hashes: argon2id for new ones; Portus's bcrypt hashes verified as they are and
replaced by argon2id at the next successful login (pwdlib does both)."""

from __future__ import annotations

import hmac
from functools import cache

import bcrypt
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


BCRYPT_BYTES = 72  # bcrypt reads no further (Portus's bcrypt library cut there too)


def portus_token_matches(token: str, salt: str | None, stored: str) -> bool:
    """Whether ``token`` is the Portus application token whose hash is ``stored``: Portus kept
    bcrypt(token) made with the token's own salt, so the token is hashed with that salt and
    the two hashes compared in constant time."""
    if salt is None or len(token.encode()) > MAX_PASSWORD:
        return False
    try:
        made = bcrypt.hashpw(token.encode()[:BCRYPT_BYTES], salt.encode())
    except ValueError:  # a salt bcrypt cannot read
        return False
    return hmac.compare_digest(made, stored.encode())
