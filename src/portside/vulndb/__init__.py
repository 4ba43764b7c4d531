"""Vulnerability data: OSV advisories read, indexed and matched against installed packages.

Pure library code (no database, no HTTP), one concern per module:

- :mod:`~portside.vulndb.osv`: OSV records -> immutable :class:`Advisory` objects;
- :mod:`~portside.vulndb.load`: stream advisories from a folder or osv.dev's ``all.zip``, bounded;
- :mod:`~portside.vulndb.severity`: CVSS and vendor severities -> Critical ... Unknown;
- :mod:`~portside.vulndb.orders` and :mod:`~portside.vulndb.versions`: each ecosystem's version
  order, and "is version V affected" per the OSV specification;
- :mod:`~portside.vulndb.ecosystems`: OS release / package type -> OSV ecosystem, name forms;
- :mod:`~portside.vulndb.index`: advisories indexed by package, compiled once, answers memoized;
- :mod:`~portside.vulndb.match`: match package lists, report findings.

Errors are in :mod:`~portside.vulndb.errors`, under :class:`portside.errors.PortsideError`.
"""
