"""Portside: an index of a Docker/OCI registry, kept in sync in real time."""

__version__ = "0.1.0"
USER_AGENT = f"portside/{__version__}"
