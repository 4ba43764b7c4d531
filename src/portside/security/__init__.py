"""Portside's security wing: two shared types and three layers with one job each::

    severity.py   the one severity type (Critical ... Unknown) and counting
    packages.py   the one Package and OsRelease types, typed from cataloging to matching
    analysis/     the pure image analyzer: layers streamed and decompressed, tar entries
                  walked, the OS and installed packages cataloged (no database, no HTTP)
    advisories/   the pure vulnerability data: OSV records parsed, loaded, indexed, each
                  ecosystem's version order, packages matched to advisories, severities
    scanning/     the I/O around them: the scan task and its queue, the layer cache, the
                  stored advisories and re-matching, other backends (Clair, Harbor), scans on
                  request, the CI gate, reports and SBOMs

``scanning`` imports ``analysis`` and ``advisories``; neither of those imports ``scanning``.
"""
