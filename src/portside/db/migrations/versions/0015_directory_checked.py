"""users.directory_checked_at: when the directory last confirmed a directory user (a login or
the re-check of its personal token); a directory user's last login counts as one

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portside.db.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

When = portside.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("directory_checked_at", When, nullable=True))
    op.execute("UPDATE users SET directory_checked_at = last_login_at WHERE ldap_name IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("directory_checked_at")
