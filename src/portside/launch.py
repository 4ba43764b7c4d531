"""The `portside` command's entry point.

Most of a short command's time (`portside scan`) is the interpreter importing Typer, Rich,
pydantic, SQLAlchemy and aiohttp, and then tearing them down. The cycle collector has nothing
to find in either (module objects live as long as the process), so the CLI module is imported
with it paused and what the import left is frozen (:func:`portside.cyclegc.importing`), the
command runs with it on, and on the way out the live objects are frozen too
(:func:`portside.cyclegc.before_exit`).
"""

from __future__ import annotations

from portside import cyclegc


def main() -> None:
    with cyclegc.importing():
        from portside.cli import app
    try:
        app()
    finally:
        cyclegc.before_exit()
