"""The events task is a leaf: only the layers that compose or show it import ``events/``
(issue 11, item 1). Walks every module's imports with ``ast``; no module is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import portside

PACKAGE = Path(portside.__file__).parent
# The composition and the edges (process wiring, HTTP, pages, the read model that shows the
# events queue, CLI, metrics) may use the events task; the index, the sync, the scanner, the
# outgoing webhooks and the rest may not.
MAY_IMPORT_EVENTS = {
    "events",
    "api",
    "ui",
    "reads",
    "app.py",
    "cli.py",
    "services.py",
    "metrics.py",
}


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_events(path: Path) -> bool:
    return any(
        name == "portside.events" or name.startswith("portside.events.") for name in imported(path)
    )


def test_only_the_edges_import_the_events_task() -> None:
    checked = [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in MAY_IMPORT_EVENTS
    ]
    assert any(path.relative_to(PACKAGE).parts[0] == "sync" for path in checked)
    offenders = [str(path.relative_to(PACKAGE)) for path in checked if imports_events(path)]
    assert offenders == []


def test_the_walk_sees_an_import_of_events(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from portside.events.decide import TagFacts\n")
    assert imports_events(module)
    module.write_text("from portside import events\n")
    assert imports_events(module)
    module.write_text("from portside.index.facts import TagFacts\n")
    assert not imports_events(module)
