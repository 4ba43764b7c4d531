"""scanning

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:17:35.725854
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portside.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advisories",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("modified", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("imported_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisories")),
    )
    op.create_table(
        "layer_cache",
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_layer_cache")),
    )
    op.create_table(
        "scan_targets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("repository", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("os", sa.JSON(), nullable=True),
        sa.Column("packages", sa.JSON(), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("scanned_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("matched_at", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_targets")),
        sa.UniqueConstraint("digest", name=op.f("uq_scan_targets_digest")),
    )
    with op.batch_alter_table("scan_targets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scan_targets_queue", ["status", "available_at", "priority"], unique=False
        )

    op.create_table(
        "vulndb_imports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", portside.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vulndb_imports")),
    )
    op.create_table(
        "advisory_packages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("advisory_id", sa.String(length=255), nullable=False),
        sa.Column("ecosystem", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(
            ["advisory_id"],
            ["advisories.id"],
            name=op.f("fk_advisory_packages_advisory_id_advisories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisory_packages")),
    )
    with op.batch_alter_table("advisory_packages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_advisory_packages_advisory_id"), ["advisory_id"], unique=False
        )
        batch_op.create_index("ix_advisory_packages_package", ["ecosystem", "name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("advisory_packages", schema=None) as batch_op:
        batch_op.drop_index("ix_advisory_packages_package")
        batch_op.drop_index(batch_op.f("ix_advisory_packages_advisory_id"))

    op.drop_table("advisory_packages")
    op.drop_table("vulndb_imports")
    with op.batch_alter_table("scan_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_scan_targets_queue")

    op.drop_table("scan_targets")
    op.drop_table("layer_cache")
    op.drop_table("advisories")
