"""Every exception class of the package belongs to the one tree that errors.py draws."""

import importlib
import inspect
import pkgutil
import re

import portside
from portside import errors
from portside.errors import PortsideError


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in pkgutil.walk_packages(portside.__path__, "portside."):
        if ".db.migrations" in module.name:
            continue  # Alembic's scripts run only inside Alembic
        loaded = importlib.import_module(module.name)
        for _, value in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("portside"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def _drawn_parents() -> dict[str, str]:
    """Each class drawn in errors.py's docstring -> the class drawn above it."""
    doc = errors.__doc__ or ""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        if line.strip() == "PortsideError":
            stack = [(-1, "PortsideError")]
            continue
        match = re.search(r"── (\S+)", line)
        if match is None or not stack:
            continue
        depth = match.start()
        name = match.group(1).rsplit(".", 1)[-1]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_walk_finds_the_classes_outside_errors_py() -> None:
    names = {cls.__name__ for cls in _exception_classes()}
    assert {"LayerRejected", "BodyTooLarge", "Refused", "_Refused", "Forbidden"} <= names


def test_every_exception_derives_from_portside_error() -> None:
    outside = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _exception_classes()
        if not issubclass(cls, PortsideError)
    ]
    assert outside == []


def test_every_exception_is_drawn_under_its_parent() -> None:
    drawn = _drawn_parents()
    for cls in _exception_classes():
        if cls is PortsideError:
            continue
        assert cls.__name__ in drawn, f"{cls.__module__}.{cls.__name__} is not drawn in errors.py"
        assert drawn[cls.__name__] == cls.__bases__[0].__name__, cls
