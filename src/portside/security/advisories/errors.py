"""Errors of the vulnerability data modules.

They sit under Portside's one exception tree::

    PortsideError
    └── VulnDataError               vulnerability data cannot be used
        ├── InvalidAdvisory         one record is not a usable OSV advisory (the import goes on)
        ├── SourceUnreadable        the folder or archive itself cannot be read (the import stops)
        ├── load._Refused           one file is not imported (reported; the import goes on)
        ├── sources.fetch.FetchFailed        an archive could not be downloaded
        └── sources.update.ArchiveRefused    a downloaded archive is not a sound zip
"""

from __future__ import annotations

from portside.errors import PortsideError


class VulnDataError(PortsideError):
    """Vulnerability data cannot be used."""


class InvalidAdvisory(VulnDataError):
    """A record is not a usable OSV advisory (no id, not an object, ...)."""


class SourceUnreadable(VulnDataError):
    """The folder or zip archive of advisories cannot be read at all."""
