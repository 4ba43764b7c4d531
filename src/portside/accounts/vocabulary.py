"""The accounts' words, as stored: namespace visibilities, team roles and registry actions.

Portus stored visibility and role as integers (``PORTUS_VISIBILITY`` and ``PORTUS_ROLE`` map
them); Portside stores the words."""

from __future__ import annotations

from enum import StrEnum


class Visibility(StrEnum):
    PUBLIC = "public"  # anyone, anonymous included, may pull and see
    PROTECTED = "protected"  # any logged-in user may pull and see
    PRIVATE = "private"  # only the owning team


class Role(StrEnum):
    VIEWER = "viewer"  # pull
    CONTRIBUTOR = "contributor"  # pull and push
    OWNER = "owner"  # contributor who manages the team and its namespaces


class Action(StrEnum):
    """A registry scope's actions (distribution's token specification)."""

    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"


PORTUS_VISIBILITY = {0: Visibility.PRIVATE, 1: Visibility.PROTECTED, 2: Visibility.PUBLIC}
PORTUS_ROLE = {0: Role.VIEWER, 1: Role.CONTRIBUTOR, 2: Role.OWNER}
