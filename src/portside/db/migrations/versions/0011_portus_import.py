"""Portus import: personal_tokens.scheme and salt (a Portus application token is kept as
Portus stored it, bcrypt with its own salt); webhooks' method, content type, basic auth and
extra headers (Portus's per-namespace webhooks had them)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("personal_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scheme", sa.String(length=16), server_default="sha256", nullable=False)
        )
        batch_op.add_column(sa.Column("salt", sa.String(length=64), nullable=True))
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("method", sa.String(length=8), server_default="POST", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "content_type",
                sa.String(length=255),
                server_default="application/json",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("username", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("password", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("headers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        for column in ("headers", "password", "username", "content_type", "method"):
            batch_op.drop_column(column)
    with op.batch_alter_table("personal_tokens", schema=None) as batch_op:
        batch_op.drop_column("salt")
        batch_op.drop_column("scheme")
