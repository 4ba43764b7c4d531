"""Structured log fields: the events operators search for carry them, and the JSON lines
formatter writes them as fields of their own."""

import json
import logging
from datetime import UTC, datetime

from portside.db.models import RegistryEvent, ScanTarget
from portside.events.processor import _fields as event_fields
from portside.logconfig import JsonFormatter
from portside.security.scanning.task import _fields as scan_fields

DIGEST = "sha256:" + "a" * 64


def test_an_event_logs_its_id_repository_tag_and_digest() -> None:
    event = RegistryEvent(
        event_id="e-1",
        action="push",
        repository="ns/app",
        tag="1.0",
        digest=DIGEST,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        data={},
    )
    assert event_fields(event) == {
        "event_id": "e-1",
        "repository": "ns/app",
        "tag": "1.0",
        "digest": DIGEST,
    }


def test_a_scan_logs_its_task_repository_and_digest() -> None:
    target = ScanTarget(repository="ns/app", digest=DIGEST)
    assert scan_fields(target) == {"task": "scan", "repository": "ns/app", "digest": DIGEST}


def test_the_json_lines_carry_the_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "portside.x", "msg": "scanned %s", "args": ("ns/app",), "levelno": 20}
    )
    record.__dict__.update({"task": "scan", "digest": DIGEST, "duration": 1.5})
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "scanned ns/app"
    assert (line["task"], line["digest"], line["duration"]) == ("scan", DIGEST, 1.5)


def test_no_log_call_passes_a_field_logging_reserves() -> None:
    """A reserved name (``name``, ``message``...) in ``extra=`` raises at the log call."""
    import ast
    from pathlib import Path

    import portside

    reserved = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
    root = Path(portside.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                    keys = {k.value for k in keyword.value.keys if isinstance(k, ast.Constant)}
                    assert not keys & reserved, (path, keys & reserved)
