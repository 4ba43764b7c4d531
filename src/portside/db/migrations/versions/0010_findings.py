"""findings: scan targets' findings as rows (findings, image_findings), advisories' aliases

The tables are filled here from what is already stored (``scan_targets.findings`` and
``advisories.data``); from then on :mod:`portside.security.findings_store` keeps them in step
wherever those are written. The row shaping is a frozen copy of that module's, so that this
revision does not change when the module does.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 02:20:00
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import portside.db.types

revision = "0010"
down_revision = "0009"
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
_advisories = sa.table("advisories", sa.column("id", sa.String()), sa.column("data", sa.JSON()))
_findings = sa.table(
    "findings",
    sa.column("id", BigId),
    sa.column("advisory_id", sa.String()),
    sa.column("ecosystem", sa.String()),
    sa.column("package", sa.String()),
    sa.column("version", sa.String()),
    sa.column("fixed_version", sa.String()),
    sa.column("severity", sa.String()),
    sa.column("created_at", When),
)
_links = sa.table(
    "image_findings", sa.column("scan_target_id", BigId), sa.column("finding_id", BigId)
)
_aliases = sa.table(
    "advisory_aliases",
    sa.column("key", sa.String()),
    sa.column("advisory_id", sa.String()),
    sa.column("alias", sa.String()),
)
LEVELS = {"Critical", "High", "Medium", "Low", "Negligible", "Unknown"}


def upgrade() -> None:
    op.create_table(
        "advisory_aliases",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("advisory_id", sa.String(length=255), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["advisory_id"],
            ["advisories.id"],
            name=op.f("fk_advisory_aliases_advisory_id_advisories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "advisory_id", name=op.f("pk_advisory_aliases")),
    )
    op.create_index(op.f("ix_advisory_aliases_advisory_id"), "advisory_aliases", ["advisory_id"])
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
    _backfill(op.get_bind())


def _clip(value: Any, size: int) -> str:
    return str(value if value is not None else "")[:size]


def _rows(findings: Any, at: datetime) -> dict[tuple[Any, ...], dict[str, Any]]:
    if isinstance(findings, str):  # JSON text where the driver did not decode it
        findings = json.loads(findings)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for finding in findings or []:
        if not isinstance(finding, dict) or not finding.get("id"):
            continue
        row = {
            "advisory_id": _clip(finding["id"], 255),
            "ecosystem": _clip(finding.get("ecosystem"), 128),
            "package": _clip(finding.get("package"), 512),
            "version": _clip(finding.get("version"), 255),
            "fixed_version": _clip(finding["fixed_version"], 255)
            if finding.get("fixed_version")
            else None,
            "severity": finding.get("severity") if finding.get("severity") in LEVELS else "Unknown",
            "created_at": at,
        }
        key = (row["advisory_id"], row["ecosystem"], row["package"], row["version"])
        rows.setdefault(key, row)
    return rows


def _aliases_of(advisory_id: str, data: Any) -> list[dict[str, Any]]:
    if isinstance(data, str):
        data = json.loads(data)
    if not isinstance(data, dict):
        data = {}

    def strings(field: str) -> list[str]:
        found = data.get(field)
        return [s for s in found if isinstance(s, str) and s] if isinstance(found, list) else []

    names = [advisory_id, *strings("aliases")]
    names += [n for n in (*strings("upstream"), *strings("related")) if n.startswith("CVE-")]
    rows: dict[str, dict[str, Any]] = {}
    for name in names:
        if len(name) <= 255:
            rows.setdefault(
                name.lower(), {"key": name.lower(), "advisory_id": advisory_id, "alias": name}
            )
    return list(rows.values())


def _backfill(bind: sa.Connection) -> None:
    now = datetime.now(UTC)
    last = ""
    while True:
        advisories = bind.execute(
            sa.select(_advisories.c.id, _advisories.c.data)
            .where(_advisories.c.id > last)
            .order_by(_advisories.c.id)
            .limit(BATCH)
        ).all()
        if not advisories:
            break
        rows = [row for a in advisories for row in _aliases_of(a.id, a.data)]
        if rows:
            bind.execute(sa.insert(_aliases), rows)
        last = advisories[-1].id
    # Each distinct finding once (the first seen wins), then which digest has which.
    ids: dict[tuple[Any, ...], int] = {}
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
            break
        links = []
        for t in targets:
            for key, row in _rows(t.findings, t.matched_at or t.scanned_at or now).items():
                if key not in ids:
                    ids[key] = len(ids) + 1
                    bind.execute(sa.insert(_findings).values(id=ids[key], **row))
                links.append({"scan_target_id": t.id, "finding_id": ids[key]})
        if links:
            bind.execute(sa.insert(_links), links)
        after = targets[-1].id
    if ids and bind.dialect.name == "postgresql":  # explicit ids: move the sequence past them
        bind.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('findings', 'id'), :n)"), {"n": len(ids)}
        )


def downgrade() -> None:
    op.drop_index("ix_image_findings_finding", table_name="image_findings")
    op.drop_table("image_findings")
    op.drop_index("ix_findings_package", table_name="findings")
    op.drop_index("ix_findings_advisory", table_name="findings")
    op.drop_table("findings")
    op.drop_index(op.f("ix_advisory_aliases_advisory_id"), table_name="advisory_aliases")
    op.drop_table("advisory_aliases")
