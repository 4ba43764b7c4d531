"""The accounts' errors (drawn in portside/errors.py)."""

from __future__ import annotations

from portside.errors import PortsideError


class AccountError(PortsideError):
    """A change to users, teams, namespaces or tokens that cannot be made."""


class InvalidAccount(AccountError):
    """A name, password or value that cannot be used (refused before anything is stored)."""


class AccountNotFound(AccountError):
    """No such user, team, namespace or token."""


class AccountConflict(AccountError):
    """It exists already, or the change contradicts the model (e.g. a private global
    namespace)."""
