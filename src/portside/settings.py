"""Portside's settings: one typed object, read from a YAML file and ``PORTSIDE_*`` variables.

Precedence (highest first): environment variables (``PORTSIDE_REGISTRY__URL``; nested keys are
joined with ``__``), then the YAML file (``--config`` or ``PORTSIDE_CONFIG``), then defaults.
Nothing is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from portside.errors import ConfigError

ENV_PREFIX = "PORTSIDE_"
CONFIG_ENV = "PORTSIDE_CONFIG"


def check_ca_file(value: Path | None) -> Path | None:
    """A readable PEM file of certificates to trust."""
    if value is None:
        return None
    import ssl

    _readable_file(value)
    try:
        ssl.create_default_context(cafile=str(value))
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"{str(value)!r} holds no PEM certificate: {exc}") from exc
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_tokens(tokens: list[SecretStr]) -> list[SecretStr]:
    """A token must be usable in an ``Authorization`` header: not empty, no surrounding
    whitespace, printable ASCII. An empty token would match an empty (or whitespace-only)
    header. The message names the entry, never the token."""
    for index, token in enumerate(tokens):
        value = token.get_secret_value()
        if not value.strip():
            raise ValueError(f"entry {index} is empty: every token must have characters")
        if value != value.strip():
            raise ValueError(f"entry {index} starts or ends with whitespace")
        if not all(" " <= char <= "~" for char in value):
            raise ValueError(f"entry {index} has a character outside printable ASCII")
    return tokens


def _readable_file(value: Path | None) -> Path | None:
    if value is None:
        return None
    if not value.is_file():
        raise ValueError(f"{str(value)!r} is not a file")
    if not os.access(value, os.R_OK):
        raise ValueError(f"{str(value)!r} is not readable by this user")
    return value


class RegistrySettings(_Section):
    url: str | None = Field(
        default=None,
        description="Base URL of the registry, e.g. http://127.0.0.1:5000. "
        "Unset with `portside run`: a local registry is started.",
    )
    username: str = ""
    password: SecretStr = SecretStr("")
    verify_tls: bool = True
    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) that signed the registry's certificate (a private "
        "CA); the system's CAs are used otherwise.",
    )
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    concurrency: int = Field(default=16, ge=1, le=256)
    catalog_page: int = Field(default=1000, ge=1, le=100_000)
    max_manifest_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    local_port: int = Field(
        default=5000, ge=1, le=65535, description="Port of the registry `portside run` starts."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https:// (got {value!r})")
        return value.rstrip("/")

    _ca_file = field_validator("ca_file")(check_ca_file)


class TlsSettings(_Section):
    """The certificate (with its chain) and private key the HTTP side serves, as PEM files."""

    cert: Path
    key: Path

    @field_validator("cert", "key")
    @classmethod
    def _file(cls, value: Path) -> Path:
        result = _readable_file(value)
        assert result is not None
        return result

    @model_validator(mode="after")
    def _pair(self) -> TlsSettings:
        import ssl

        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                str(self.cert), str(self.key)
            )
        except (ssl.SSLError, ValueError) as exc:
            raise ValueError(f"the certificate and key do not make a pair: {exc}") from exc
        return self


class NotificationSettings(_Section):
    """The endpoint for the registry's notifications (incoming: ``POST /v2/webhooks/events``)."""

    tokens: list[SecretStr] = Field(default_factory=list)
    require_token: bool = Field(
        default=True,
        description="Refuse notifications without a configured token. Turn off only on a "
        "network where nothing else can reach Portside.",
    )
    max_body: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_clock_skew: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="Seconds an event's timestamp may run ahead of Portside's clock; a later "
        "one is recorded as the time it was received.",
    )

    _tokens = field_validator("tokens")(check_tokens)


class ApiSettings(_Section):
    admin_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Bearer tokens for the API's mutations (deletes, rescans, retries).",
    )
    anonymous_reads: bool | None = Field(
        default=None,
        description="Let anyone read the API and UI. Default: yes when the server listens on "
        "a loopback address only, no otherwise (then reads need an admin token).",
    )
    scan_slots: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Images POST /api/v1/scans analyzes at once; more requests wait their turn.",
    )
    max_body: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest API request body in bytes (413 beyond it, counted while streaming).",
    )

    _tokens = field_validator("admin_tokens")(check_tokens)


class SigningAlgorithm(StrEnum):
    RS256 = "RS256"
    ES256 = "ES256"


class TokenServerSettings(_Section):
    """The registry's token server (``/v2/token``): distribution's token specification."""

    issuer: str = Field(
        default="portside",
        min_length=1,
        max_length=255,
        description="The tokens' iss; the registry's auth.token.issuer.",
    )
    service: str | None = Field(
        default=None,
        max_length=255,
        description="The registry's service name (auth.token.service); default: the "
        "registry URL's host:port.",
    )
    algorithm: SigningAlgorithm = Field(
        default=SigningAlgorithm.RS256, description="The key Portside generates and keeps."
    )
    expiry: float = Field(
        default=300.0, ge=30, le=3600, description="Seconds a registry token is valid."
    )


class SessionSettings(_Section):
    """The pages' login session (a signed cookie) and login throttling."""

    lifetime: float = Field(
        default=12 * 3600.0, gt=0, le=30 * 86400, description="Seconds a login lasts."
    )
    secure_cookie: bool | None = Field(
        default=None,
        description="Send the cookie over HTTPS only. Default: when public_url is https or "
        "server.tls is set.",
    )
    max_failures: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Failed logins per user and per address in throttle_window before 429.",
    )
    throttle_window: float = Field(default=60.0, gt=0, le=86400)


class LdapGroupSettings(_Section):
    """What membership of one directory group gives: a role in a Portside team."""

    team: str = Field(min_length=1, max_length=255)
    role: str = Field(default="viewer", description="viewer, contributor or owner.")

    @field_validator("team")
    @classmethod
    def _team(cls, value: str) -> str:
        if LDAP_TEAM.fullmatch(value) is None or value != value.strip():
            raise ValueError(
                f"{value[:80]!r} is not a team name (letters, digits, space . _ -; a personal "
                "team cannot be mapped)"
            )
        return value

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in LDAP_ROLES:
            raise ValueError(f"must be one of {', '.join(LDAP_ROLES)} (got {value!r})")
        return value


LDAP_TEAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,254}")
LDAP_ROLES = ("viewer", "contributor", "owner")
LDAP_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")


class LdapSettings(_Section):
    """Logging in with a directory's passwords (``auth.ldap``): users are looked up with the
    service bind (or an anonymous one), then bound as themselves with the password given."""

    url: str = Field(description="ldap://host[:port] or ldaps://host[:port].")
    start_tls: bool = Field(default=False, description="StartTLS on an ldap:// URL.")
    ca_file: Path | None = Field(
        default=None,
        description="PEM certificates to trust for LDAPS/StartTLS (default: the system's).",
    )
    bind_dn: str | None = Field(
        default=None, max_length=1024, description="The service account; none: anonymous search."
    )
    bind_password: SecretStr | None = None
    user_base: str = Field(min_length=1, max_length=1024)
    user_filter: str = Field(
        default="(uid={username})",
        max_length=1024,
        description="{username} is replaced by the login name, escaped per RFC 4515.",
    )
    uid_attribute: str = Field(default="uid", description="The attribute that is the user name.")
    email_attribute: str = "mail"
    group_base: str | None = Field(default=None, max_length=1024)
    group_filter: str = Field(
        default="(member={dn})",
        max_length=1024,
        description="{dn} is the user's DN, {username} the user name (both escaped).",
    )
    group_attribute: str = Field(
        default="cn", description="The group attribute the groups' keys and admin_group name."
    )
    groups: dict[str, LdapGroupSettings] = Field(
        default_factory=dict, description="Directory group -> {team, role}."
    )
    admin_group: str | None = Field(
        default=None, description="Members are Portside admins; others are not (when set)."
    )
    timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to connect and for each answer."
    )
    recheck_interval: float = Field(
        default=300.0,
        ge=1,
        le=86400,
        description="Seconds a directory user's personal token is used before the directory "
        "is asked again whether the user still exists (gone: the user is disabled).",
    )
    recheck_grace: float = Field(
        default=86400.0,
        ge=0,
        le=30 * 86400,
        description="While the directory cannot be reached, a directory user's personal "
        "tokens keep working this many seconds after its last confirmation; then 503.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc})") from exc
        if parts.scheme not in {"ldap", "ldaps"} or not parts.hostname:
            raise ValueError(f"must be ldap://host[:port] or ldaps://host[:port] (got {value!r})")
        if parts.path not in {"", "/"} or parts.query or parts.username or port == 0:
            raise ValueError(f"must be ldap://host[:port] or ldaps://host[:port] (got {value!r})")
        return value.rstrip("/")

    _ca_file = field_validator("ca_file")(check_ca_file)

    @field_validator("uid_attribute", "email_attribute", "group_attribute")
    @classmethod
    def _attribute(cls, value: str) -> str:
        if LDAP_ATTRIBUTE.fullmatch(value) is None:
            raise ValueError(f"{value[:80]!r} is not an LDAP attribute name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LdapSettings:
        if self.start_tls and self.url.startswith("ldaps:"):
            raise ValueError("start_tls is for ldap:// URLs (an ldaps:// URL is TLS already)")
        has_password = self.bind_password is not None and bool(
            self.bind_password.get_secret_value()
        )
        if (self.bind_dn is not None) != has_password:
            raise ValueError(
                "bind_dn and bind_password go together (leave both out for an anonymous search)"
            )
        _filter("user_filter", self.user_filter, "{username}")
        if self.group_base is not None:
            _filter("group_filter", self.group_filter, "{dn}", "{username}")
        elif self.groups or self.admin_group:
            raise ValueError("groups and admin_group need group_base (where to find the groups)")
        return self


def _filter(key: str, value: str, *placeholders: str) -> None:
    if not (value.startswith("(") and value.endswith(")")):
        raise ValueError(f"{key} must be an LDAP filter in parentheses (got {value[:80]!r})")
    if value.count("(") != value.count(")"):
        raise ValueError(f"{key} has unbalanced parentheses (got {value[:80]!r})")
    if not any(placeholder in value for placeholder in placeholders):
        raise ValueError(f"{key} must contain {' or '.join(placeholders)} (got {value[:80]!r})")


class AuthSettings(_Section):
    public_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Portside's URL as browsers and registry clients reach it (the token "
        "realm); default: from server.host, server.port and server.tls.",
    )
    token: TokenServerSettings = Field(default_factory=TokenServerSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    ldap: LdapSettings | None = Field(
        default=None, description="Directory logins (LDAP); none: local accounts only."
    )


class WebhookKind(StrEnum):
    PUSH = "push"
    DELETE = "delete"
    SCAN_COMPLETED = "scan-completed"
    NEW_VULNERABILITIES = "new-vulnerabilities"


class OutgoingWebhookSettings(_Section):
    name: str = Field(min_length=1, max_length=255)
    url: str
    secret: SecretStr = Field(description="Key of the X-Portside-Signature-256 HMAC-SHA256.")
    namespaces: str = Field(default="*", description="A glob on the namespace, e.g. team-*.")
    kinds: list[WebhookKind] = Field(default_factory=lambda: list(WebhookKind))

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https:// (got {value!r})")
        return value


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    tls: TlsSettings | None = Field(
        default=None, description="Serve HTTPS with this certificate and key (PEM files)."
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Host header names (port ignored) the server answers; others get 421. "
        "Default: when reads are open because the server listens on loopback, only "
        "localhost and loopback addresses (against DNS rebinding); otherwise any. "
        '["*"] allows any.',
    )

    trusted_proxies: list[str] = Field(
        default_factory=list,
        max_length=256,
        description="IP addresses or CIDR networks of the reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed. Default: none (the client is "
        "the connection's peer, whatever the headers say).",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        names = [name.strip().lower().rstrip(".") for name in value]
        if not names or not all(names):
            raise ValueError('name at least one host, and no empty one (or ["*"] for any)')
        return names

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: list[str]) -> list[str]:
        return [proxy_network(index, entry) for index, entry in enumerate(value)]


def proxy_network(index: int, entry: str) -> str:
    """One ``server.trusted_proxies`` entry, normalized: an IP address (``10.0.0.5``,
    ``::1``) or a CIDR network (``10.0.0.0/8``) without host bits; anything else (a host
    name, ``*``, ``10.0.0.1/8``) is refused, naming the entry."""
    import ipaddress

    text = entry.strip()
    try:
        if "/" not in text:
            return str(ipaddress.ip_address(text))
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        raise ValueError(
            f"entry {index} ({entry[:80]!r}) is not an IP address or a CIDR network such as "
            f"10.0.0.0/8 (host names and * are not accepted): {exc}"
        ) from None


class EventsTaskSettings(_Section):
    enabled: bool = True
    interval: float = Field(default=1.0, gt=0, description="Poll interval in seconds.")
    batch_size: int = Field(default=500, ge=1, le=10_000)
    lease: float = Field(default=60.0, gt=0, description="Seconds a claimed event stays claimed.")
    max_attempts: int = Field(default=8, ge=1)
    backoff_base: float = Field(default=1.0, gt=0)
    backoff_max: float = Field(default=300.0, gt=0)
    not_found_retries: int = Field(
        default=3, ge=0, description="Retries of a manifest that 404s right after its push."
    )
    not_found_delay: float = Field(default=1.0, ge=0)
    pull_resolution: float = Field(
        default=60.0, ge=0, description="pulled_at is rewritten only when it moves this much."
    )
    retention: float = Field(default=7 * 86400.0, gt=0, description="Seconds done events are kept.")


class SyncStrategy(StrEnum):
    UPDATE_DELETE = "update-delete"
    UPDATE = "update"
    ON_START = "on-start"
    INITIAL = "initial"


class SyncTaskSettings(_Section):
    enabled: bool = True
    strategy: SyncStrategy = SyncStrategy.UPDATE_DELETE
    interval: float = Field(default=300.0, gt=0)
    max_delete_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A sync that would delete more than this share of the index's tags is "
        "held back (`portside sync --allow-mass-delete` overrides).",
    )


class ScannerBackend(StrEnum):
    BUILTIN = "builtin"
    CLAIR = "clair"
    HARBOR_ADAPTER = "harbor-adapter"
    DUMMY = "dummy"


class ClairSettings(_Section):
    url: str | None = Field(default=None, description="Clair v4's base URL (indexer+matcher).")
    timeout: float = Field(default=300.0, gt=0, description="Seconds to wait for a report.")


class HarborAdapterSettings(_Section):
    url: str | None = Field(
        default=None,
        description="Base URL of a Harbor pluggable-scanner adapter (/api/v1 is appended "
        "unless it ends with it).",
    )
    api_key: SecretStr = SecretStr("")
    timeout: float = Field(default=300.0, gt=0, description="Seconds to wait for a report.")


class ScanTaskSettings(_Section):
    enabled: bool = True
    backends: list[ScannerBackend] = Field(
        default_factory=lambda: [ScannerBackend.BUILTIN],
        description="Scanners to run; their findings are merged per vulnerability id.",
    )
    clair: ClairSettings = Field(default_factory=ClairSettings)
    harbor_adapter: HarborAdapterSettings = Field(default_factory=HarborAdapterSettings)
    interval: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=4, ge=1, le=100, description="Digests claimed at once.")
    lease: float = Field(default=900.0, gt=0, description="Seconds a claimed scan stays claimed.")
    max_attempts: int = Field(default=5, ge=1)
    backoff_base: float = Field(default=30.0, gt=0)
    backoff_max: float = Field(default=3600.0, gt=0)
    max_layer_bytes: int = Field(
        default=2 * 1024**3, ge=1024, description="Decompressed bytes read from one layer."
    )
    max_layer_files: int = Field(default=500_000, ge=1)
    max_file_bytes: int = Field(
        default=64 * 1024**2, ge=1024, description="Largest package database or metadata file."
    )

    @model_validator(mode="after")
    def _backends_configured(self) -> ScanTaskSettings:
        if not self.backends:
            raise ValueError("backends: name at least one scanner")
        if ScannerBackend.CLAIR in self.backends and not self.clair.url:
            raise ValueError("clair.url: needed when the clair backend is on")
        if ScannerBackend.HARBOR_ADAPTER in self.backends and not self.harbor_adapter.url:
            raise ValueError("harbor_adapter.url: needed when the harbor-adapter backend is on")
        return self


class GcTaskSettings(_Section):
    enabled: bool = Field(default=False, description="Off by default: it deletes images.")
    interval: float = Field(default=3600.0, gt=0)
    older_than: float = Field(default=30.0, gt=0, description="Days without a push or pull.")
    keep_latest: int = Field(default=5, ge=0, description="Newest tags kept per repository.")
    include: str | None = Field(default=None, description="Only repository:tag matching this.")
    exclude: str | None = Field(default=None, description="Never repository:tag matching this.")

    @field_validator("include", "exclude")
    @classmethod
    def _regexp(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value or None


class OutgoingTaskSettings(_Section):
    """The delivery of Portside's outgoing webhooks (``outgoing_webhooks``)."""

    enabled: bool = True
    interval: float = Field(default=2.0, gt=0)
    timeout: float = Field(default=10.0, gt=0, description="Seconds per delivery attempt.")
    max_attempts: int = Field(default=8, ge=1)
    backoff_base: float = Field(default=5.0, gt=0)
    backoff_max: float = Field(default=3600.0, gt=0)


OSV_BASE_URL = "https://osv-vulnerabilities.storage.googleapis.com"


def _source_url(value: str) -> str:
    if not value.startswith(("http://", "https://", "file://")):
        raise ValueError(f"must start with http://, https:// or file:// (got {value!r})")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in value) or len(value) > 2048:
        raise ValueError(f"not a usable URL (got {value!r})")
    return value


class VulndbSettings(_Section):
    """The vulnerability data that keeps itself current: OSV archives fetched on an interval."""

    enabled: bool = Field(
        default=True,
        description="Fetch the sources in the background (`portside vulndb update`"
        " fetches them on demand either way).",
    )
    base_url: str = Field(
        default=OSV_BASE_URL,
        description="Where the default sources live: {base_url}/{Ecosystem}/all.zip for each "
        "ecosystem found in scanned images. A mirror or an air-gapped file server (http(s):// "
        "or file://) can replace it.",
    )
    sources: list[str] | None = Field(
        default=None,
        description="OSV archives (all.zip) by URL, http(s):// or file://. Unset: derived from "
        "base_url and the ecosystems found in scanned images.",
    )
    interval: float = Field(default=3600.0, gt=0, description="Seconds between fetches.")
    timeout: float = Field(default=600.0, gt=0, description="Seconds one download may take.")
    max_archive_bytes: int = Field(
        default=2 * 1024**3, ge=1024, description="Largest archive downloaded (compressed)."
    )
    stale_after: float = Field(
        default=7.0,
        gt=0,
        description="Days after which loaded data is stale: a scan verdict then says how old "
        "its data is instead of 'no known vulnerabilities'.",
    )
    backoff_base: float = Field(default=60.0, gt=0)
    backoff_max: float = Field(default=6 * 3600.0, gt=0)
    rematch_workers: int = Field(
        default=1,
        ge=0,
        le=16,
        description="Worker processes that match while the re-match after an update writes "
        "(for 200 images or more; 0: match in the same process). One uses a second core.",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _source_url(value).rstrip("/")

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return list(dict.fromkeys(_source_url(url) for url in value))


class BackgroundSettings(_Section):
    events: EventsTaskSettings = Field(default_factory=EventsTaskSettings)
    sync: SyncTaskSettings = Field(default_factory=SyncTaskSettings)
    scan: ScanTaskSettings = Field(default_factory=ScanTaskSettings)
    gc: GcTaskSettings = Field(default_factory=GcTaskSettings)
    outgoing: OutgoingTaskSettings = Field(default_factory=OutgoingTaskSettings)
    schema_wait: float = Field(
        default=60.0, ge=0, description="Seconds to wait for the database to be migrated."
    )

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return rename_old_keys(data, OLD_BACKGROUND_KEYS)

    def tasks(self) -> dict[str, BaseModel]:
        """Each task's section by the task's name: the outgoing webhooks' task keeps its name
        ``webhooks`` (in ``task_states`` and ``GET /api/v1/status``)."""
        sections = {name: getattr(self, name) for name in type(self).model_fields}
        return {
            TASK_NAMES.get(name, name): section
            for name, section in sections.items()
            if isinstance(section, BaseModel)
        }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    database_url: str = "sqlite:///portside.db"
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    outgoing_webhooks: list[OutgoingWebhookSettings] = Field(
        default_factory=list, description="Portside's own notifications to your systems."
    )
    background: BackgroundSettings = Field(default_factory=BackgroundSettings)
    vulndb: VulndbSettings = Field(default_factory=VulndbSettings)
    log_level: str = "INFO"
    data_dir: Path = Field(
        default=Path(".portside"),
        description="Where `portside run` keeps its local registry and generated secrets.",
    )

    _deprecations: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _old_names(cls, data: Any, handler: ModelWrapValidatorHandler[Settings]) -> Settings:
        used = old_keys_in(data)
        settings = handler(rename_old_keys(data, OLD_KEYS))
        settings._deprecations = [*used, *settings._deprecations]
        return settings

    @property
    def deprecations(self) -> list[str]:
        """One message per old key these settings were given (log them once at start)."""
        return list(self._deprecations)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError(f"must be a sqlite:/// or postgresql:// URL (got {value!r})")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR (got {value!r})")
        return upper

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init arguments; the environment overrides it; the old names
        # in the environment (PORTSIDE_WEBHOOK__*) are read too, and renamed by _old_names.
        return (env_settings, EnvSettingsSource(_OldEnvironment), init_settings)


OLD_KEYS = {"webhook": "notifications"}
OLD_BACKGROUND_KEYS = {"webhooks": "outgoing"}
TASK_NAMES = {"outgoing": "webhooks"}  # background section -> the name of its task


def rename_old_keys(data: Any, renames: dict[str, str]) -> Any:
    """``data`` (the raw settings of one level) with its old keys under their new names: a key
    given under both names takes the new name's value."""
    if not isinstance(data, dict) or not any(old in data for old in renames):
        return data
    data = dict(data)
    for old, new in renames.items():
        if old not in data:
            continue
        value = data.pop(old)
        current = data.get(new)
        if isinstance(value, dict) and isinstance(current, dict):
            data[new] = {**value, **current}
        elif current is None:
            data[new] = value
    return data


def old_keys_in(data: Any) -> list[str]:
    """A deprecation message for each old key in the raw settings ``data``."""
    if not isinstance(data, dict):
        return []
    found = [(old, new) for old, new in OLD_KEYS.items() if old in data]
    background = data.get("background")
    if isinstance(background, dict):
        found += [
            (f"background.{old}", f"background.{new}")
            for old, new in OLD_BACKGROUND_KEYS.items()
            if old in background
        ]
    return [
        f"setting {old}.* is deprecated: use {new}.* (PORTSIDE_{new.upper().replace('.', '__')}__*)"
        for old, new in found
    ]


class _OldEnvironment(BaseSettings):
    """The sections whose old names are still read from the environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore", case_sensitive=False
    )

    webhook: NotificationSettings | None = None


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # here: only a process given a config file pays for it

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of keys")
    return data


def describe_validation_error(error: ValidationError, source: str) -> str:
    """One line per wrong value, each naming its key as written in the YAML file."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown setting"
        got = item.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        lines.append(f"{source}: {key}: {message}{shown}")
    return "\n".join(lines)


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (if any) and the environment; raise ConfigError on any wrong value."""
    path = config or os.environ.get(CONFIG_ENV) or None
    data: dict[str, Any] = _read_yaml(Path(path)) if path else {}
    data.update(overrides)
    source = f"settings ({path})" if path else "settings"
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from exc
