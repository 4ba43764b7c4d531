"""accounts: users, teams and their members, namespaces' owning team and visibility,
personal tokens, the server's kept keys, login throttling; activities' namespace

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portside.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = portside.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("bot", sa.Boolean(), nullable=False),
        sa.Column("ldap_name", sa.String(length=1024), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("last_login_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "teams",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_members_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_team_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_members")),
    )
    op.create_index(op.f("ix_team_members_user_id"), "team_members", ["user_id"])
    op.create_table(
        "personal_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=True),
        sa.Column("last_used_at", When, nullable=True),
        sa.Column("revoked_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_personal_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_personal_tokens_token_hash")),
    )
    op.create_index(op.f("ix_personal_tokens_user_id"), "personal_tokens", ["user_id"])
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_keys")),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("window_start", When, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("namespaces") as batch:
        batch.add_column(sa.Column("team_id", BigId, nullable=True))
        batch.add_column(
            sa.Column("visibility", sa.String(length=16), server_default="private", nullable=False)
        )
        batch.add_column(sa.Column("description", sa.Text(), server_default="", nullable=False))
        batch.create_foreign_key(
            op.f("fk_namespaces_team_id_teams"),
            "teams",
            ["team_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_namespaces_team_id"), ["team_id"])
    # Everyone may pull from the global namespace (Portus's rule); the others stay private
    # to the admins until an admin gives them to a team.
    op.execute("UPDATE namespaces SET visibility = 'public' WHERE name = ''")
    op.add_column("activities", sa.Column("namespace", sa.String(length=255), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        first = "split_part(repository, '/', 1)"
        has_slash = "strpos(repository, '/') > 0"
    else:
        first = "substr(repository, 1, instr(repository, '/') - 1)"
        has_slash = "instr(repository, '/') > 0"
    op.execute(
        "UPDATE activities SET namespace = "
        f"CASE WHEN {has_slash} THEN {first} ELSE '' END "
        "WHERE repository IS NOT NULL"
    )
    op.create_index("ix_activities_namespace", "activities", ["namespace", "id"])


def downgrade() -> None:
    op.drop_index("ix_activities_namespace", table_name="activities")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("namespace")
    with op.batch_alter_table("namespaces") as batch:
        batch.drop_index(op.f("ix_namespaces_team_id"))
        batch.drop_constraint(op.f("fk_namespaces_team_id_teams"), type_="foreignkey")
        batch.drop_column("description")
        batch.drop_column("visibility")
        batch.drop_column("team_id")
    op.drop_table("login_throttle")
    op.drop_table("server_keys")
    op.drop_index(op.f("ix_personal_tokens_user_id"), table_name="personal_tokens")
    op.drop_table("personal_tokens")
    op.drop_index(op.f("ix_team_members_user_id"), table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
    op.drop_table("users")
