"""The index's tables.

Names are kept as text in activities and events (not foreign keys) so that history outlives
the repositories and tags it talks about.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from portside.accounts.vocabulary import Visibility
from portside.db.types import CompressedJSON, UTCDateTime
from portside.index.vocabulary import ScanTargetStatus, TagScanState

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger autoincrement primary keys on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Registry(Base):
    __tablename__ = "registries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    url: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Namespace(Base):
    __tablename__ = "namespaces"
    __table_args__ = (UniqueConstraint("registry_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    registry_id: Mapped[int] = mapped_column(ForeignKey("registries.id", ondelete="CASCADE"))
    # "" is the registry's global namespace (repositories without a "/").
    name: Mapped[str] = mapped_column(String(255))
    # The owning team; None: the admins (a namespace the registry created on a push).
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    # accounts.policy.Visibility: public, protected or private.
    visibility: Mapped[str] = mapped_column(
        String(16), default=Visibility.PRIVATE.value, server_default=Visibility.PRIVATE.value
    )
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (
        UniqueConstraint("registry_id", "name"),
        Index("ix_repositories_name", "name", "id"),  # the list's key order
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    registry_id: Mapped[int] = mapped_column(ForeignKey("registries.id", ondelete="CASCADE"))
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    tags: Mapped[list[Tag]] = relationship(
        back_populates="repository", cascade="all, delete-orphan", passive_deletes=True
    )


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("repository_id", "name"),
        Index("ix_tags_digest", "digest"),
        Index("ix_tags_repository_digest", "repository_id", "digest"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(128))
    media_type: Mapped[str | None] = mapped_column(String(255))
    config_digest: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    # For an index: [{"os", "architecture", "variant", "digest", "size", "media_type"}].
    # For an image: one entry, from its config.
    platforms: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # False while only the manifest is known: the sync records a new image from its manifest
    # and describes it (config: platform, created; an index's platform sizes) after its walk.
    described: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    author: Mapped[str | None] = mapped_column(String(255))
    image_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scan_state: Mapped[str] = mapped_column(String(16), default=TagScanState.PENDING.value)
    # Time of the newest registry event (bounded by when it was received) or sync observation
    # applied to this row, and that event's queue position (None: the sync set it last). An
    # older event arriving late never moves the tag (events/decide.py).
    source_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    repository: Mapped[Repository] = relationship(back_populates="tags")


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_at", "at", "id"),
        Index("ix_activities_repository", "repository", "id"),
        Index("ix_activities_namespace", "namespace", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(255))
    repository: Mapped[str | None] = mapped_column(String(512))
    # The repository's namespace ("" global), for reads filtered by who may see it; None for
    # an activity about no repository.
    namespace: Mapped[str | None] = mapped_column(String(255))
    tag: Mapped[str | None] = mapped_column(String(128))
    digest: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RegistryEvent(Base):
    __tablename__ = "registry_events"
    __table_args__ = (
        Index("ix_registry_events_queue", "status", "available_at", "id"),
        Index("ix_registry_events_repository", "repository", "status", "id"),
        Index("ix_registry_events_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    action: Mapped[str] = mapped_column(String(16))
    repository: Mapped[str] = mapped_column(String(512))
    tag: Mapped[str | None] = mapped_column(String(128))
    digest: Mapped[str | None] = mapped_column(String(128))
    media_type: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # fresh -> progress -> done | failed; a retry sets it back to fresh with a later available_at.
    status: Mapped[str] = mapped_column(String(16), server_default=text("'fresh'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskState(Base):
    """What each background task last did, for `GET /api/v1/status` from any process."""

    __tablename__ = "task_states"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool]
    worker: Mapped[str | None] = mapped_column(String(255))
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_duration: Mapped[float | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Lease(Base):
    """A named lease: one holder at a time (one sync across all background processes)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScanTarget(Base):
    """One manifest digest to scan (tags sharing a digest share its result)."""

    __tablename__ = "scan_targets"
    __table_args__ = (Index("ix_scan_targets_queue", "status", "available_at", "priority"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest: Mapped[str] = mapped_column(String(128), unique=True)
    repository: Mapped[str] = mapped_column(String(512))  # where to read it from
    # pending -> progress -> done | failed; a retry sets it back to pending, later.
    status: Mapped[str] = mapped_column(String(16), default=ScanTargetStatus.PENDING.value)
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher first
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    os: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Compressed on SQLite (types.CompressedJSON): any change to a row rewrites all of it there,
    # and these two were 300 KB of an image's row, rewritten at every re-match.
    packages: Mapped[list[dict[str, Any]] | None] = mapped_column(CompressedJSON)
    findings: Mapped[list[dict[str, Any]] | None] = mapped_column(CompressedJSON)
    counts: Mapped[dict[str, int] | None] = mapped_column(JSON)
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LayerCache(Base):
    """A layer's files of interest, by layer digest: a shared base layer is read once."""

    __tablename__ = "layer_cache"

    digest: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Advisory(Base):
    __tablename__ = "advisories"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    modified: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn: Mapped[bool] = mapped_column(default=False)
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the OSV record as imported
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What a finding reports of it (portside.security.advisories.stored.brief_form).
    brief: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AdvisoryPackage(Base):
    """Which (ecosystem, package) an advisory affects: the matcher's index."""

    __tablename__ = "advisory_packages"
    __table_args__ = (Index("ix_advisory_packages_package", "ecosystem", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    advisory_id: Mapped[str] = mapped_column(
        ForeignKey("advisories.id", ondelete="CASCADE"), index=True
    )
    ecosystem: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(512))
    # The advisory's ``affected`` entries for this package, as the matcher reads them
    # (portside.security.advisories.stored.affected_form).
    affected: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class AdvisoryAlias(Base):
    """The names an advisory is known by (its aliases, the CVE ids among its upstream and
    related ids, and its own id), for the security hub's search: ``key`` is the name in lower
    case (``cve-2021-44228``), so a search ignores case."""

    __tablename__ = "advisory_aliases"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    advisory_id: Mapped[str] = mapped_column(
        ForeignKey("advisories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    alias: Mapped[str] = mapped_column(String(255))


class FindingGroup(Base):
    """The findings of one installed package (ecosystem, name, version) as a scan found them,
    shared by every digest that has that package with those findings: the security hub links
    digests to groups (:class:`ImageFindingGroup`), about a sixth as many rows as one link per
    finding. ``key`` is a digest of the group's rows (:func:`portside.security.findings_store.
    group_key`): a group never changes; findings that change make another group. Kept in step
    with ``scan_targets.findings`` in the same transaction by
    :mod:`portside.security.findings_store`."""

    __tablename__ = "finding_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first found in any digest


class Finding(Base):
    """A finding as the security hub queries it: one (advisory, ecosystem, package, installed
    version) with its fixed version and severity, in its group (:class:`FindingGroup`)."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_advisory", "advisory_id", "group_id"),
        Index("ix_findings_package", "package", "group_id"),
        # SQLite: kept in key order, each row written once (migration 0018).
        {"sqlite_with_rowid": False},
    )

    # A group holds one row per advisory (findings_store.groups_of).
    group_id: Mapped[int] = mapped_column(
        ForeignKey("finding_groups.id", ondelete="CASCADE"), primary_key=True
    )
    advisory_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    ecosystem: Mapped[str] = mapped_column(String(128))
    package: Mapped[str] = mapped_column(String(512))
    version: Mapped[str] = mapped_column(String(255))
    fixed_version: Mapped[str | None] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(16))


class ImageFindingGroup(Base):
    """Which digest (scan target) has which group of findings: two integers a row."""

    __tablename__ = "image_finding_groups"
    __table_args__ = (
        Index("ix_image_finding_groups_group", "group_id", "scan_target_id"),
        {"sqlite_with_rowid": False},
    )

    scan_target_id: Mapped[int] = mapped_column(
        ForeignKey("scan_targets.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("finding_groups.id", ondelete="CASCADE"), primary_key=True
    )


class VulndbImport(Base):
    __tablename__ = "vulndb_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(Text)
    records: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)


class VulndbSource(Base):
    """An OSV archive Portside keeps current (``vulndb.sources``), or a path imported by hand:
    what its last fetch found, for conditional requests, back-off and the data's age."""

    __tablename__ = "vulndb_sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    etag: Mapped[str | None] = mapped_column(String(1024))
    last_modified: Mapped[str | None] = mapped_column(String(255))
    last_attempt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success: Mapped[datetime | None] = mapped_column(UTCDateTime)
    records: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # records by index ecosystem at the last successful import: which data it provides
    ecosystems: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class AdvisorySource(Base):
    """Which source holds an advisory: a record that leaves a source leaves with it, unless
    another source (or a hand import) still holds it."""

    __tablename__ = "advisory_sources"

    advisory_id: Mapped[str] = mapped_column(
        ForeignKey("advisories.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[int] = mapped_column(
        ForeignKey("vulndb_sources.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Webhook(Base):
    """An operator's endpoint for Portside's own notifications."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(255))
    namespaces: Mapped[str] = mapped_column(String(255), default="*")  # a glob on the namespace
    kinds: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(default=True)
    from_settings: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # How the request is made (Portus's webhooks chose these; Portside's own are the defaults).
    method: Mapped[str] = mapped_column(String(8), default="POST", server_default="POST")
    content_type: Mapped[str] = mapped_column(
        String(255), default="application/json", server_default="application/json"
    )
    username: Mapped[str | None] = mapped_column(String(255))  # basic auth, when set
    password: Mapped[str | None] = mapped_column(String(255))
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)  # extra request headers


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_queue", "status", "available_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    activity_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending -> done | failed (after max attempts); retried with backoff meanwhile.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_response: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Cursor(Base):
    """A named position in an append-only table (the webhooks' place in the activities)."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)


# -- accounts ---------------------------------------------------------------------------------
class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    # pwdlib's format (argon2id; a Portus bcrypt hash until its next login). None: no
    # password login (bots, directory users).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    bot: Mapped[bool] = mapped_column(Boolean, default=False)
    ldap_name: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept in each login session; bumped by a password change or "log out everywhere": a
    # session holding another number is logged out.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A directory user's last confirmation by the directory (a login, or the re-check of a
    # personal token's owner: portside.accounts.recheck).
    directory_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # A user's personal team (owner of the personal namespace), not listed with the others.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # accounts.policy.Role: viewer, contributor or owner.
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PersonalToken(Base):
    """A personal access token: only its SHA-256 is kept (the token is shown once). A token
    imported from Portus keeps Portus's bcrypt hash and salt (scheme ``portus-bcrypt``)."""

    __tablename__ = "personal_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheme: Mapped[str] = mapped_column(String(16), default="sha256", server_default="sha256")
    salt: Mapped[str | None] = mapped_column(String(64))


class ServerKey(Base):
    """Secrets Portside generates once and keeps, shared by every worker: the session
    cookie's key, the token server's private key and certificate (PEM)."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed logins per key ("user:NAME" or "addr:IP") in the current window."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class VulnerabilityException(Base):
    """The CVE allowlist (:mod:`portside.security.exceptions`): a vulnerability (an advisory
    id or any alias, as given) allowed in one namespace (``namespace`` a name; "" the global
    namespace) or everywhere (NULL), with a reason, who allowed it, and an expiry."""

    __tablename__ = "vulnerability_exceptions"
    __table_args__ = (Index("ix_vulnerability_exceptions_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    namespace: Mapped[str | None] = mapped_column(String(255))
    vulnerability: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(1000))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
