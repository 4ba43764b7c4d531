"""Portside's one exception tree.

Every error Portside raises on purpose derives from :class:`PortsideError`. Errors of the
libraries underneath (aiohttp, SQLAlchemy, pydantic) are translated at the one module that uses
the library and re-raised with the original as ``__cause__``::

    PortsideError
    ├── ConfigError                 a setting is missing or wrong (start-up stops)
    ├── StorageError                the database failed
    │   ├── SchemaNotReady          the schema is not migrated to this version's head
    │   └── events.queue.LeaseLost  another worker took a batch over (our lease expired)
    ├── RegistryError               talking to the registry failed
    │   ├── RegistryUnavailable     connection refused/reset, timeout, 5xx: transient, retry
    │   ├── RegistryAuthError       401/403 after authenticating: fix the credentials
    │   ├── RegistryNotFound        404 (MANIFEST_UNKNOWN, NAME_UNKNOWN, BLOB_UNKNOWN)
    │   ├── RegistryRejected        another 4xx: the request itself is refused
    │   │   └── InvalidName         a repository, tag, digest or image reference outside the
    │   │                           distribution grammar: refused before any request is sent
    │   └── RegistryProtocolError   an answer that breaks the API: bad JSON, wrong digest, too big
    ├── ApiClientError              a running Portside could not be asked (`scan --server`)
    ├── WebhookError                a registry notification the endpoint refuses (incoming)
    │   ├── WebhookUnauthorized     missing or wrong token (401)
    │   ├── InvalidEnvelope         not JSON, wrong shape, too large (4xx)
    │   └── events.envelope.Refused one event of a well-formed envelope (its neighbours are kept)
    ├── accounts.errors.AccountError   a change to users, teams, namespaces or tokens refused
    │   ├── InvalidAccount          a name, password or value that cannot be used
    │   ├── AccountNotFound         no such user, team, namespace or token
    │   └── AccountConflict         it exists already, or the change contradicts the model
    ├── accounts.ldap.DirectoryUnavailable   the directory (LDAP) cannot be asked now
    ├── web.access.Unauthorized     an API call or page without a valid token (401)
    ├── web.access.Forbidden        a logged-in caller asking for what it may not see or do (403)
    ├── web.csrf.CsrfRefused        a change by login session without its CSRF token (403)
    │   └── FormRefused             a page's form without it (answered with a page)
    ├── ui.viewer.LoginNeeded       a page for logged-in users, without a login (to /login)
    ├── ui.viewer.PageForbidden     a page or form the user may not use (403)
    ├── tokenserver.server.Refusal  a registry token request answered with an error (4xx)
    ├── tokenserver.claims.ScopeError   too many scopes in one token request (400)
    ├── security.exceptions.ExceptionError  a change to the CVE allowlist refused
    │   ├── InvalidException        a vulnerability id, reason or expiry that cannot be used
    │   ├── ExceptionNotFound       no exception with that id, or no namespace of that name
    │   └── ExceptionRefused        global ones are admins'; a namespace's its team owners'
    ├── api.errors.NotFound         an API resource that does not exist (404)
    ├── api.errors.InvalidRequest   a well-formed request whose value cannot be used (422)
    ├── api.errors.NotConfigured    a call this server is not set up for (503)
    ├── api.admission.BodyTooLarge  a request body over its limit (413)
    ├── deletion.DeletionRefused    a deletion (or a change) that would take more than asked (409)
    ├── portus.read.PortusError     a Portus database that cannot be read (import-portus stops)
    │   ├── BadDsn                  a DSN that is not a usable mysql:// URL (exit 2)
    │   └── _Bad                    one value of a Portus row (the row is reported; goes on)
    ├── security.analysis.limits.LayerRejected   a hostile, oversized, corrupt or lying layer
    │   └── UnsupportedLayer        a layer media type the scanner cannot read
    ├── security.analysis.packages.UnreadableDatabase   a package database that cannot be read
    ├── security.scanning.backends.BackendError   a scanner backend refused or failed the scan
    │   └── BackendUnavailable      a backend cannot be reached now, or is still working: retry
    └── security.advisories.errors.VulnDataError   vulnerability data cannot be used
        ├── InvalidAdvisory         one record is not a usable OSV advisory (the import goes on)
        ├── SourceUnreadable        the folder or archive cannot be read (the import stops)
        ├── security.advisories.load._Refused   one file is not imported (reported; goes on)
        ├── security.sources.fetch.FetchFailed   an archive could not be downloaded (kept as was)
        └── security.sources.update.ArchiveRefused   a downloaded archive is not a sound zip

The classes drawn with a module path are defined in that module (``portside.`` left out), next
to the code that raises them; the others here. ``tests/unit/test_error_tree.py`` checks that
every exception class of the package is drawn, under its real parent.
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
