"""indexes for the reads' key orderings: repositories by (name, id), activities of one
repository by id, the timeline by (at, id), registry events of one status by id

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 00:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_repositories_name", "repositories", ["name", "id"])
    op.create_index("ix_activities_repository", "activities", ["repository", "id"])
    op.drop_index("ix_activities_at", table_name="activities")
    op.create_index("ix_activities_at", "activities", ["at", "id"])
    op.create_index("ix_registry_events_status", "registry_events", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_registry_events_status", table_name="registry_events")
    op.drop_index("ix_activities_at", table_name="activities")
    op.create_index("ix_activities_at", "activities", ["at"])
    op.drop_index("ix_activities_repository", table_name="activities")
    op.drop_index("ix_repositories_name", table_name="repositories")
