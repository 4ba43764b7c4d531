"""What the administration pages share: notices, form fields read and checked, the answer
to a change."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from portside.accounts.errors import InvalidAccount
from portside.accounts.vocabulary import Role, Visibility
from portside.ui.render import query
from portside.ui.viewer import field

NOTICES = {
    "added": "Added.",
    "changed": "Changed.",
    "removed": "Removed.",
    "revoked": "The token was revoked: it no longer works.",
}
ROLES = [role.value for role in Role]
VISIBILITIES = [visibility.value for visibility in Visibility]
MAX_DESCRIPTION = 1000


def done(path: str, what: str) -> Response:
    return RedirectResponse(query(path, done=what), status_code=303)


def checked(form: dict[str, list[str]], name: str) -> bool:
    return field(form, name) == "1"


def description_of(form: dict[str, list[str]]) -> str:
    text = field(form, "description").strip()
    if len(text) > MAX_DESCRIPTION or not (text.isprintable() or not text):
        raise InvalidAccount(f"a description is at most {MAX_DESCRIPTION} printable characters")
    return text


def role_of(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise InvalidAccount(f"a role is one of {', '.join(ROLES)}") from None


def visibility_of(raw: str) -> Visibility:
    try:
        return Visibility(raw)
    except ValueError:
        raise InvalidAccount(f"a visibility is one of {', '.join(VISIBILITIES)}") from None
