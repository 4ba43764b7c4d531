"""tags.source_seq (the queue position of the last event applied to a tag) and an index on
tags (repository_id, digest) for the events task's per-digest lookups

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_seq", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_tags_repository_digest", ["repository_id", "digest"])


def downgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index("ix_tags_repository_digest")
        batch_op.drop_column("source_seq")
