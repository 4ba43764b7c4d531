"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 08:44:09.374854
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portside.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("repository", sa.String(length=512), nullable=True),
        sa.Column("tag", sa.String(length=128), nullable=True),
        sa.Column("digest", sa.String(length=128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_at", ["at"], unique=False)

    op.create_table(
        "registries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("created_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registries")),
        sa.UniqueConstraint("name", name=op.f("uq_registries_name")),
    )
    op.create_table(
        "registry_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("repository", sa.String(length=512), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=True),
        sa.Column("digest", sa.String(length=128), nullable=True),
        sa.Column("media_type", sa.String(length=255), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("occurred_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'fresh'"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("available_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("processed_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_registry_events_event_id")),
    )
    with op.batch_alter_table("registry_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registry_events_queue", ["status", "available_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_registry_events_repository", ["repository", "status", "id"], unique=False
        )

    op.create_table(
        "task_states",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("last_started_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_duration", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_task_states")),
    )
    op.create_table(
        "namespaces",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "registry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["registries.id"],
            name=op.f("fk_namespaces_registry_id_registries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_namespaces")),
        sa.UniqueConstraint("registry_id", "name", name=op.f("uq_namespaces_registry_id")),
    )
    op.create_table(
        "repositories",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "registry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("created_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_repositories_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["registries.id"],
            name=op.f("fk_repositories_registry_id_registries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repositories")),
        sa.UniqueConstraint("registry_id", "name", name=op.f("uq_repositories_registry_id")),
    )
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repositories_namespace_id"), ["namespace_id"], unique=False
        )

    op.create_table(
        "tags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=True),
        sa.Column("config_digest", sa.String(length=128), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("image_created_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pushed_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pulled_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scan_state", sa.String(length=16), nullable=False),
        sa.Column("source_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_tags_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("repository_id", "name", name=op.f("uq_tags_repository_id")),
    )
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index("ix_tags_digest", ["digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index("ix_tags_digest")

    op.drop_table("tags")
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repositories_namespace_id"))

    op.drop_table("repositories")
    op.drop_table("namespaces")
    op.drop_table("task_states")
    with op.batch_alter_table("registry_events", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_events_repository")
        batch_op.drop_index("ix_registry_events_queue")

    op.drop_table("registry_events")
    op.drop_table("registries")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_at")

    op.drop_table("activities")
