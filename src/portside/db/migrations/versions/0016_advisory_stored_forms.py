"""advisories.brief and advisory_packages.affected: what the matcher reads of an advisory,
stored beside the record at import, so that a re-match no longer parses every whole record

Both are derived from ``advisories.data`` (the OSV record as imported) and are filled here from
it with the application's own parser and forms (:mod:`portside.security.advisories.stored`),
not frozen copies: they are a cache of the record in the form the matcher of this version reads.
A record the parser refuses is left without them; the matcher then parses that record, as it
did before this revision.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 09:40:00
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BATCH = 500
log = logging.getLogger("alembic.runtime.migration")

_advisories = sa.table(
    "advisories", sa.column("id", sa.String()), sa.column("data", sa.JSON()), sa.column("brief")
)
_packages = sa.table(
    "advisory_packages",
    sa.column("advisory_id", sa.String()),
    sa.column("ecosystem", sa.String()),
    sa.column("name", sa.String()),
    sa.column("affected"),
)


# Plain ALTER TABLE, not Alembic's batch mode: on SQLite that copies the table and drops the
# old one, and dropping ``advisories`` deletes every row that references it (ON DELETE
# CASCADE: the packages, aliases and sources of every advisory). SQLite >= 3.35 (required)
# adds and drops columns in place.


def upgrade() -> None:
    op.add_column("advisories", sa.Column("brief", sa.JSON(), nullable=True))
    op.add_column("advisory_packages", sa.Column("affected", sa.JSON(), nullable=True))
    _fill(op.get_bind())


def downgrade() -> None:
    op.execute("ALTER TABLE advisory_packages DROP COLUMN affected")
    op.execute("ALTER TABLE advisories DROP COLUMN brief")


def _batches(bind: sa.Connection) -> Iterator[list[Any]]:
    after = ""
    while True:
        rows = bind.execute(
            sa.select(_advisories.c.id, _advisories.c.data)
            .where(_advisories.c.id > after)
            .order_by(_advisories.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1].id


def _fill(bind: sa.Connection) -> None:
    from portside.errors import PortsideError
    from portside.security.advisories.osv import parse_advisory
    from portside.security.advisories.stored import affected_forms, brief_form

    brief = sa.update(_advisories).where(_advisories.c.id == sa.bindparam("key"))
    affected = sa.update(_packages).where(
        _packages.c.advisory_id == sa.bindparam("key"),
        _packages.c.ecosystem == sa.bindparam("key_ecosystem"),
        _packages.c.name == sa.bindparam("key_name"),
    )
    filled = 0
    for rows in _batches(bind):
        briefs: list[dict[str, Any]] = []
        forms: list[dict[str, Any]] = []
        for row in rows:
            try:
                advisory = parse_advisory(row.data).advisory
            except (PortsideError, ValueError, TypeError, AttributeError):
                continue  # left without its forms: the matcher parses the record
            briefs.append({"key": row.id, "brief": brief_form(advisory)})
            forms.extend(
                {"key": row.id, "key_ecosystem": e, "key_name": n, "affected": entries}
                for (e, n), entries in affected_forms(advisory).items()
            )
        if briefs:
            bind.execute(brief.values(brief=sa.bindparam("brief", type_=sa.JSON())), briefs)
        if forms:
            bind.execute(affected.values(affected=sa.bindparam("affected", type_=sa.JSON())), forms)
        filled += len(briefs)
    if filled:
        log.info("advisories: stored forms filled for %d records", filled)
