"""Vulnerability data: OSV advisories read, indexed and matched against installed packages.

Pure library code (no database, no HTTP), one concern per module of ``advisories``:

- ``osv``: OSV records -> immutable :class:`Advisory` objects;
- ``load``: stream advisories from a folder or osv.dev's ``all.zip``, bounded;
- ``severity``: CVSS and vendor severities -> Critical ... Unknown;
- ``orders`` and ``versions``: each ecosystem's version order, and "is version V affected" per
  the OSV specification;
- ``ecosystems``: OS release / package type -> OSV ecosystem, name forms;
- ``index``: advisories indexed by package, compiled once, answers memoized;
- ``match``: match package lists, report findings.

Errors are in ``advisories.errors``, under :class:`portside.errors.PortsideError`.
"""
