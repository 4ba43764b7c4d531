"""Portside's one exception tree.

Every error Portside raises on purpose derives from :class:`PortsideError`. Errors of the
libraries underneath (aiohttp, SQLAlchemy, pydantic) are translated at the one module that uses
the library and re-raised with the original as ``__cause__``::

    PortsideError
    ├── ConfigError                 a setting is missing or wrong (start-up stops)
    ├── StorageError                the database failed
    │   └── SchemaNotReady          the schema is not migrated to this version's head
    ├── RegistryError               talking to the registry failed
    │   ├── RegistryUnavailable     connection refused/reset, timeout, 5xx: transient, retry
    │   ├── RegistryAuthError       401/403 after authenticating: fix the credentials
    │   ├── RegistryNotFound        404 (MANIFEST_UNKNOWN, NAME_UNKNOWN, BLOB_UNKNOWN)
    │   ├── RegistryRejected        another 4xx: the request itself is refused
    │   │   └── InvalidName         a repository, tag or digest outside the distribution
    │   │                           grammar: refused before any request is sent
    │   └── RegistryProtocolError   an answer that breaks the API: bad JSON, wrong digest, too big
    ├── ApiClientError              a running Portside could not be asked (`scan --server`)
    ├── WebhookError                a notification the endpoint refuses
    │   ├── WebhookUnauthorized     missing or wrong token (401)
    │   └── InvalidEnvelope         not JSON, wrong shape, too large (4xx)
    ├── scan.limits.LayerRejected   a hostile, oversized, corrupt or lying layer
    │   └── UnsupportedLayer        a layer media type the scanner cannot read
    ├── scan.packages.UnreadableDatabase   a package database the catalogers cannot read
    └── vulndb.errors.VulnDataError vulnerability data cannot be used
        ├── InvalidAdvisory         one record is not a usable OSV advisory (the import goes on)
        └── SourceUnreadable        the folder or archive cannot be read (the import stops)
"""

from __future__ import annotations


class PortsideError(Exception):
    """Root of every error Portside raises on purpose."""


class ConfigError(PortsideError):
    """A setting is missing or has a wrong value."""


class StorageError(PortsideError):
    """The database failed."""


class SchemaNotReady(StorageError):
    """The database schema is not at this version's migration head."""


class RegistryError(PortsideError):
    """Talking to the registry failed."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None):
        super().__init__(message)
        self.status = status
        self.url = url


class RegistryUnavailable(RegistryError):
    """The registry could not answer now (network error, timeout, 5xx). Worth a retry."""


class RegistryAuthError(RegistryError):
    """The registry refused Portside's credentials."""


class RegistryNotFound(RegistryError):
    """The repository, manifest or blob does not exist (404)."""


class RegistryRejected(RegistryError):
    """The registry refused the request itself (a 4xx other than 401/403/404)."""


class InvalidName(RegistryRejected):
    """A repository, tag or digest that does not match the distribution grammar.

    Raised before anything is sent (such a name never becomes part of a registry URL) and
    wherever a name enters Portside; a 4xx for the API, a clear error for the command line."""


class RegistryProtocolError(RegistryError):
    """The registry's answer breaks the API: unparsable, a wrong digest, too large."""


class ApiClientError(PortsideError):
    """The command line could not get an answer from a running Portside's API."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class WebhookError(PortsideError):
    """A notification the webhook endpoint refuses."""

    status_code = 400


class WebhookUnauthorized(WebhookError):
    """The notification carries no valid token."""

    status_code = 401


class InvalidEnvelope(WebhookError):
    """The notification body is not a well-formed event envelope."""

    def __init__(self, message: str, *, status_code: int = 400):
        super().__init__(message)
        self.status_code = status_code
