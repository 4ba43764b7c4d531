"""The accounts API's request and answer shapes (Create/Update/Public per entity). No answer
carries a password hash or a token hash; a new token is in :class:`TokenCreated` once."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from portside.accounts.vocabulary import Role, Visibility

MAX_NAME = 255
MAX_SECRET = 1024  # passwords.MAX_PASSWORD is checked by the store; this bounds the body
MAX_DESCRIPTION = 1024


def _no_control(value: str | None) -> str | None:
    if value is not None and any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must not contain control characters")
    return value


# -- users ------------------------------------------------------------------------------------
class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    password: str | None = Field(
        default=None,
        max_length=MAX_SECRET,
        description="None: no password login (tokens only); bots never have one.",
    )
    admin: bool = False
    bot: bool = Field(default=False, description="A service account: personal tokens only.")
    email: str | None = Field(default=None, max_length=MAX_NAME)

    @field_validator("name", "email")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return _no_control(value)


class UserUpdate(BaseModel):
    enabled: bool | None = None
    admin: bool | None = None
    password: str | None = Field(default=None, max_length=MAX_SECRET)


class UserPublic(BaseModel):
    name: str
    email: str | None
    admin: bool
    bot: bool
    enabled: bool
    has_password: bool = Field(description="Whether the user may log in with a password.")
    created_at: datetime
    last_login_at: datetime | None


# -- teams ------------------------------------------------------------------------------------
class TeamCreate(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    owner: str = Field(min_length=1, max_length=MAX_NAME, description="Its first owner.")
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


class MemberPublic(BaseModel):
    user: str
    role: Role


class TeamPublic(BaseModel):
    name: str
    description: str
    created_at: datetime
    members: list[MemberPublic]


class MemberSet(BaseModel):
    role: Role


# -- namespaces -------------------------------------------------------------------------------
class NamespaceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    team: str = Field(min_length=1, max_length=MAX_NAME)
    visibility: Visibility
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


class NamespaceUpdate(BaseModel):
    visibility: Visibility | None = None
    team: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)


class NamespacePublic(BaseModel):
    name: str = Field(description='"" is the global namespace (repositories without a "/").')
    team: str | None = Field(
        description="The owning team; null: the admins (created by a push); "
        "user:NAME: NAME's personal namespace."
    )
    personal: bool
    visibility: Visibility
    description: str
    created_at: datetime


# -- tokens -----------------------------------------------------------------------------------
class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME, description="What it is for.")
    expires_days: int | None = Field(
        default=None, ge=1, le=3650, description="Expire after this many days; null: never."
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str | None:
        return _no_control(value)


class TokenPublic(BaseModel):
    name: str
    state: str = Field(description="active, expired or revoked")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The token, shown this once: only its hash is kept.")


# -- who am I ---------------------------------------------------------------------------------
class MembershipPublic(BaseModel):
    team: str
    role: Role


class MePublic(BaseModel):
    name: str | None = Field(description="The user; null for an admin token or anonymous.")
    authenticated: bool
    admin: bool
    teams: list[MembershipPublic]
