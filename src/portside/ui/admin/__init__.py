"""The administration pages, a module each: users (add, disable/enable, admin flag, reset a
password, their tokens), teams and their members' roles, namespaces (visibility, team,
description).
Administrators may do all of it; a team's owners manage that team's members and the
visibility and description of its namespaces (:func:`portside.accounts.policy.may_manage`).
Every form carries the session's CSRF token; a change answers 303 back to its page."""

from __future__ import annotations

from fastapi import APIRouter

from portside.ui.admin import namespaces, teams, users

router = APIRouter(prefix="/admin", include_in_schema=False)
for part in (users, teams, namespaces):
    router.include_router(part.router)
