"""The security wing has one severity type, one package type and one OS release type."""

import importlib
import pkgutil

import portside.security
from portside.security import severity


def _classes_named(name: str) -> list[str]:
    found = []
    for module in pkgutil.walk_packages(portside.security.__path__, "portside.security."):
        loaded = importlib.import_module(module.name)
        value = getattr(loaded, name, None)
        if isinstance(value, type) and value.__module__ == module.name:
            found.append(module.name)
    return found


def test_order_is_the_severity_types_order() -> None:
    assert severity.ORDER == ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")
    assert tuple(level.value for level in severity.Severity) == severity.ORDER
    assert [s.rank for s in severity.Severity] == [5, 4, 3, 2, 1, 0]


def test_one_severity_type() -> None:
    assert _classes_named("Severity") == ["portside.security.severity"]
    assert not any(
        module.name.endswith(".severity")
        and module.name != "portside.security.severity"
        and hasattr(importlib.import_module(module.name), "ORDER")
        and importlib.import_module(module.name).ORDER is not severity.ORDER
        for module in pkgutil.walk_packages(portside.security.__path__, "portside.security.")
    )


def test_one_package_type_and_one_os_release_type() -> None:
    assert _classes_named("Package") == ["portside.security.packages"]
    assert _classes_named("OsRelease") == ["portside.security.packages"]


def test_the_pure_layers_do_not_import_the_scanning_layer() -> None:
    import ast
    from pathlib import Path

    root = Path(portside.security.__file__).parent
    for folder in ("analysis", "advisories"):
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                assert not any(n.startswith("portside.security.scanning") for n in names), path
