"""findings keyed by (group_id, advisory_id); on SQLite both hub tables WITHOUT ROWID

A re-match writes hundreds of thousands of ``findings`` and ``image_finding_groups`` rows. A
``findings`` row had a surrogate ``id`` nothing reads, with an index of its own and another on
``group_id``; its natural key (a group holds one row per advisory, by construction) replaces
both. On SQLite both tables become WITHOUT ROWID, stored in their primary key's order: each
row is written once, not to the table and again to its key's index (the two inserts took
1.9 s and 1.1 s for a re-match of 1,000 images, 1.2 s and 0.5 s in this form, in a throwaway
trial). SQLite cannot change a table's key in place: the tables are copied (nothing references
them, so dropping the old ones deletes nothing else).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FINDING_COLUMNS = "group_id, advisory_id, ecosystem, package, version, fixed_version, severity"
LINK_COLUMNS = "scan_target_id, group_id"


def _finding_columns() -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("group_id", BigId, nullable=False),
        sa.Column("advisory_id", sa.String(length=255), nullable=False),
        sa.Column("ecosystem", sa.String(length=128), nullable=False),
        sa.Column("package", sa.String(length=512), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("fixed_version", sa.String(length=255), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["finding_groups.id"],
            name="fk_findings_group_id_finding_groups",
            ondelete="CASCADE",
        ),
    ]


def _link_table(name: str, *, rowid: bool) -> None:
    op.create_table(
        name,
        sa.Column("scan_target_id", BigId, nullable=False),
        sa.Column("group_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["finding_groups.id"],
            name="fk_image_finding_groups_group_id_finding_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_target_id"],
            ["scan_targets.id"],
            name="fk_image_finding_groups_scan_target_id_scan_targets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scan_target_id", "group_id", name="pk_image_finding_groups"),
        sqlite_with_rowid=rowid,
    )


def _replace(table: str, columns: str) -> None:
    """``<table>_new`` (made by the caller) filled from ``table``, then put in its place."""
    op.execute(f"INSERT INTO {table}_new ({columns}) SELECT {columns} FROM {table}")
    op.drop_table(table)  # its indexes with it
    op.rename_table(f"{table}_new", table)


def _indexes(*, group_index: bool) -> None:
    op.create_index("ix_findings_advisory", "findings", ["advisory_id", "group_id"])
    op.create_index("ix_findings_package", "findings", ["package", "group_id"])
    if group_index:
        op.create_index("ix_findings_group", "findings", ["group_id"])
    op.create_index(
        "ix_image_finding_groups_group", "image_finding_groups", ["group_id", "scan_target_id"]
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("pk_findings", "findings", type_="primary")
        op.drop_column("findings", "id")
        op.create_primary_key("pk_findings", "findings", ["group_id", "advisory_id"])
        op.drop_index("ix_findings_group", table_name="findings")
        return
    op.create_table(
        "findings_new",
        *_finding_columns(),
        sa.PrimaryKeyConstraint("group_id", "advisory_id", name="pk_findings"),
        sqlite_with_rowid=False,
    )
    _replace("findings", FINDING_COLUMNS)
    _link_table("image_finding_groups_new", rowid=False)
    _replace("image_finding_groups", LINK_COLUMNS)
    _indexes(group_index=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("pk_findings", "findings", type_="primary")
        op.execute("ALTER TABLE findings ADD COLUMN id BIGSERIAL NOT NULL")
        op.create_primary_key("pk_findings", "findings", ["id"])
        op.create_index("ix_findings_group", "findings", ["group_id"])
        return
    op.create_table(
        "findings_new",
        sa.Column("id", BigId, nullable=False),
        *_finding_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
    )
    _replace("findings", FINDING_COLUMNS)
    _link_table("image_finding_groups_new", rowid=True)
    _replace("image_finding_groups", LINK_COLUMNS)
    _indexes(group_index=True)
