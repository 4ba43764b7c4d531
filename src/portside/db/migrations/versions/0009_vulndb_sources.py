"""vulnerability data sources: vulndb_sources (each OSV archive's fetch state) and
advisory_sources (which source holds which advisory, for withdrawals)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portside.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vulndb_sources",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("etag", sa.String(length=1024), nullable=True),
        sa.Column("last_modified", sa.String(length=255), nullable=True),
        sa.Column("last_attempt", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success", portside.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("ecosystems", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vulndb_sources")),
        sa.UniqueConstraint("url", name=op.f("uq_vulndb_sources_url")),
    )
    op.create_table(
        "advisory_sources",
        sa.Column("advisory_id", sa.String(length=255), nullable=False),
        sa.Column(
            "source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["advisory_id"],
            ["advisories.id"],
            name=op.f("fk_advisory_sources_advisory_id_advisories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["vulndb_sources.id"],
            name=op.f("fk_advisory_sources_source_id_vulndb_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("advisory_id", "source_id", name=op.f("pk_advisory_sources")),
    )
    with op.batch_alter_table("advisory_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_advisory_sources_source_id"), ["source_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("advisory_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_advisory_sources_source_id"))
    op.drop_table("advisory_sources")
    op.drop_table("vulndb_sources")
