"""The layers' imports, read from the source (no import runs): the JSON API and the pages
never import each other; both read through portside.reads; the app is composed above them."""

from __future__ import annotations

import ast
from pathlib import Path

import portside

PACKAGE = Path(portside.__file__).parent


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def imports_of(folder: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(PACKAGE)): imported(path)
        for path in sorted((PACKAGE / folder).rglob("*.py"))
    }


def reaching(found: dict[str, set[str]], target: str) -> list[str]:
    return sorted(
        f"{where} imports {name}"
        for where, names in found.items()
        for name in names
        if name == target or name.startswith(target + ".")
    )


def test_api_does_not_import_the_pages() -> None:
    assert reaching(imports_of("api"), "portside.ui") == []


def test_the_pages_do_not_import_the_api() -> None:
    assert reaching(imports_of("ui"), "portside.api") == []


def test_the_read_model_and_the_shared_web_deps_import_neither() -> None:
    for folder in ("reads", "web"):
        found = imports_of(folder)
        assert reaching(found, "portside.api") == [], folder
        assert reaching(found, "portside.ui") == [], folder
        assert reaching(found, "portside.app") == [], folder


def test_routers_hold_no_sql() -> None:
    """The read routers call portside.reads; SQLAlchemy's query builders stay out of them."""
    for name in (
        "activities",
        "events",
        "repositories",
        "status",
        "tags",
        "vulnerabilities",
        "webhooks_api",
    ):
        names = imported(PACKAGE / "api" / f"{name}.py")
        assert not {n for n in names if n.startswith("sqlalchemy")}, name
    assert not {n for n in imported(PACKAGE / "ui" / "routes.py") if n.startswith("sqlalchemy.sql")}
    assert not {n for n in imported(PACKAGE / "ui" / "vulnerabilities.py") if "sqlalchemy" in n}
