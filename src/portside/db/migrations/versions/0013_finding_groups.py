"""finding_groups: the security hub's findings grouped per installed package

A digest used to be linked to each of its findings (``image_findings``: 804,000 rows for
1,000 images in ``bench/rematch.py``, most of a re-match's time). Now a digest is linked to
the groups of findings of its vulnerable packages (``image_finding_groups``), each group stored
once with its ``findings``. The rows are rebuilt here from what is stored
(``scan_targets.findings``), as revision 0010 first built them; the row shaping and the group
naming are frozen copies of :mod:`portside.security.findings_store`'s, so that this revision
does not change when the module does.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 05:30:00
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import portside.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = portside.db.types.UTCDateTime(timezone=True)
BATCH = 500

_targets = sa.table(
    "scan_targets",
    sa.column("id", BigId),
    sa.column("findings", sa.JSON()),
    sa.column("matched_at", When),
    sa.column("scanned_at", When),
)
_groups = sa.table(
    "finding_groups",
    sa.column("id", BigId),
    sa.column("key", sa.String()),
    sa.column("created_at", When),
)
FINDING_COLUMNS = (
    "group_id",
    "advisory_id",
    "ecosystem",
    "package",
    "version",
    "fixed_version",
    "severity",
)
_findings = sa.table("findings", sa.column("id", BigId), *(sa.column(c) for c in FINDING_COLUMNS))
_links = sa.table(
    "image_finding_groups", sa.column("scan_target_id", BigId), sa.column("group_id", BigId)
)
LEVELS = {"Critical", "High", "Medium", "Low", "Negligible", "Unknown"}
Row = tuple[str, str, str, str, Any, str]  # advisory, ecosystem, package, version, fixed, severity


def _clip(value: Any, size: int) -> str:
    return str(value if value is not None else "")[:size]


def _groups_of(findings: Any) -> dict[tuple[str, str, str], list[Row]]:
    """A findings list's rows (one per advisory, ecosystem, package, version; the first kept),
    split by installed package, each part sorted."""
    if isinstance(findings, str):  # JSON text where the driver did not decode it
        findings = json.loads(findings)
    rows: dict[tuple[str, ...], Row] = {}
    for finding in findings or []:
        if not isinstance(finding, dict) or not finding.get("id"):
            continue
        row: Row = (
            _clip(finding["id"], 255),
            _clip(finding.get("ecosystem"), 128),
            _clip(finding.get("package"), 512),
            _clip(finding.get("version"), 255),
            _clip(finding["fixed_version"], 255) if finding.get("fixed_version") else None,
            str(finding["severity"]) if finding.get("severity") in LEVELS else "Unknown",
        )
        rows.setdefault(row[:4], row)
    parts: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows.values():
        parts.setdefault((row[1], row[2], row[3]), []).append(row)
    for part in parts.values():
        part.sort(key=lambda r: (*r[:4], r[4] or "", r[5]))
    return parts


def _key(group: list[Row]) -> str:
    text = "\x1e".join(
        f"{advisory}\x1f{ecosystem}\x1f{package}\x1f{version}\x1f"
        f"{'-' if fixed is None else '+' + fixed}\x1f{severity}"
        for advisory, ecosystem, package, version, fixed, severity in group
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _batches(bind: sa.Connection) -> Iterator[list[Any]]:
    """The scan targets with findings, BATCH at a time."""
    after = 0
    while True:
        targets = bind.execute(
            sa.select(
                _targets.c.id, _targets.c.findings, _targets.c.matched_at, _targets.c.scanned_at
            )
            .where(_targets.c.id > after, _targets.c.findings.is_not(None))
            .order_by(_targets.c.id)
            .limit(BATCH)
        ).all()
        if not targets:
            return
        yield list(targets)
        after = targets[-1].id


def upgrade() -> None:
    op.drop_index("ix_image_findings_finding", table_name="image_findings")
    op.drop_table("image_findings")
    op.drop_index("ix_findings_package", table_name="findings")
    op.drop_index("ix_findings_advisory", table_name="findings")
    op.drop_table("findings")
    op.create_table(
        "finding_groups",
        sa.Column("id", BigId, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_groups")),
        sa.UniqueConstraint("key", name=op.f("uq_finding_groups_key")),
    )
    op.create_table(
        "findings",
        sa.Column("id", BigId, nullable=False),
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
            name=op.f("fk_findings_group_id_finding_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index("ix_findings_advisory", "findings", ["advisory_id", "group_id"])
    op.create_index("ix_findings_package", "findings", ["package", "group_id"])
    op.create_index("ix_findings_group", "findings", ["group_id"])
    op.create_table(
        "image_finding_groups",
        sa.Column("scan_target_id", BigId, nullable=False),
        sa.Column("group_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["finding_groups.id"],
            name=op.f("fk_image_finding_groups_group_id_finding_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_target_id"],
            ["scan_targets.id"],
            name=op.f("fk_image_finding_groups_scan_target_id_scan_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scan_target_id", "group_id", name=op.f("pk_image_finding_groups")),
    )
    op.create_index(
        "ix_image_finding_groups_group", "image_finding_groups", ["group_id", "scan_target_id"]
    )
    _backfill(op.get_bind())


def _backfill(bind: sa.Connection) -> None:
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    for targets in _batches(bind):
        links = []
        for t in targets:
            for group in _groups_of(t.findings).values():
                key = _key(group)
                if key not in ids:
                    ids[key] = len(ids) + 1
                    at = t.matched_at or t.scanned_at or now
                    bind.execute(sa.insert(_groups).values(id=ids[key], key=key, created_at=at))
                    bind.execute(
                        sa.insert(_findings),
                        [dict(zip(FINDING_COLUMNS, (ids[key], *r), strict=True)) for r in group],
                    )
                links.append({"scan_target_id": t.id, "group_id": ids[key]})
        if links:
            bind.execute(sa.insert(_links), links)
    if ids and bind.dialect.name == "postgresql":  # explicit ids: move the sequence past them
        bind.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('finding_groups', 'id'), :n)"),
            {"n": len(ids)},
        )


def downgrade() -> None:
    """Back to revision 0012's tables, filled from the stored findings as 0010 filled them."""
    op.drop_index("ix_image_finding_groups_group", table_name="image_finding_groups")
    op.drop_table("image_finding_groups")
    op.drop_index("ix_findings_group", table_name="findings")
    op.drop_index("ix_findings_package", table_name="findings")
    op.drop_index("ix_findings_advisory", table_name="findings")
    op.drop_table("findings")
    op.drop_table("finding_groups")
    op.create_table(
        "findings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("advisory_id", sa.String(length=255), nullable=False),
        sa.Column("ecosystem", sa.String(length=128), nullable=False),
        sa.Column("package", sa.String(length=512), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("fixed_version", sa.String(length=255), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index("ix_findings_advisory", "findings", ["advisory_id"])
    op.create_index("ix_findings_package", "findings", ["package"])
    op.create_table(
        "image_findings",
        sa.Column("scan_target_id", BigId, nullable=False),
        sa.Column("finding_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.id"],
            name=op.f("fk_image_findings_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scan_target_id"],
            ["scan_targets.id"],
            name=op.f("fk_image_findings_scan_target_id_scan_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scan_target_id", "finding_id", name=op.f("pk_image_findings")),
    )
    op.create_index("ix_image_findings_finding", "image_findings", ["finding_id", "scan_target_id"])
    _backfill_0012(op.get_bind())


def _backfill_0012(bind: sa.Connection) -> None:
    findings = sa.table(
        "findings",
        sa.column("id", BigId),
        *(sa.column(c) for c in FINDING_COLUMNS[1:]),
        sa.column("created_at", When),
    )
    links = sa.table(
        "image_findings", sa.column("scan_target_id", BigId), sa.column("finding_id", BigId)
    )
    now = datetime.now(UTC)
    ids: dict[tuple[str, ...], int] = {}
    for targets in _batches(bind):
        pairs = []
        for t in targets:
            for group in _groups_of(t.findings).values():
                for row in group:
                    if row[:4] not in ids:
                        ids[row[:4]] = len(ids) + 1
                        values = dict(zip(FINDING_COLUMNS[1:], row, strict=True))
                        at = t.matched_at or t.scanned_at or now
                        bind.execute(
                            sa.insert(findings).values(id=ids[row[:4]], created_at=at, **values)
                        )
                    pairs.append({"scan_target_id": t.id, "finding_id": ids[row[:4]]})
        if pairs:
            bind.execute(sa.insert(links), pairs)
    if ids and bind.dialect.name == "postgresql":
        bind.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('findings', 'id'), :n)"),
            {"n": len(ids)},
        )
