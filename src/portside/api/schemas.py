"""The JSON API's response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    total_estimated: bool = Field(
        False, description="total is the database's estimate, or a lower bound: about"
    )
    page: int | None = Field(None, description="The page number when asked by page=")
    per_page: int
    next: str | None = Field(None, description="The next page's cursor: ?after=<next>")
    previous: str | None = Field(None, description="The previous page's cursor: ?after=<previous>")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class RepositoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    namespace: str
    tag_count: int
    created_at: datetime
    updated_at: datetime


class Platform(BaseModel):
    os: str | None = None
    architecture: str | None = None
    variant: str | None = None
    digest: str | None = None
    size: int | None = None
    media_type: str | None = None


class TagPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    repository_id: int
    name: str
    digest: str
    media_type: str | None
    config_digest: str | None
    size: int | None
    platforms: list[Platform]
    author: str | None
    image_created_at: datetime | None
    pushed_at: datetime | None
    pulled_at: datetime | None
    scan_state: str
    severity_counts: dict[str, int] = {}
    updated_at: datetime


class EventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: str
    action: str
    repository: str
    tag: str | None
    digest: str | None
    media_type: str | None
    actor: str | None
    occurred_at: datetime
    received_at: datetime
    status: str
    attempts: int
    available_at: datetime
    error: str | None
    processed_at: datetime | None


class TaskStatus(BaseModel):
    name: str
    enabled: bool
    worker: str | None = None
    last_run_at: datetime | None = None
    last_duration: float | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    next_run_at: datetime | None = None
    runs: int = 0
    queue_depth: int | None = None
    details: dict[str, Any] = {}


class EcosystemDataStatus(BaseModel):
    ecosystem: str  # an OSV ecosystem as indexed: Debian:12, PyPI, ...
    records: int  # advisories naming it
    last_success: datetime | None  # newest successful update of a source holding it
    age_seconds: float | None
    stale: bool  # older than vulndb.stale_after (or of unknown age)


class VulndbSourceStatus(BaseModel):
    url: str
    last_attempt: datetime | None
    last_success: datetime | None
    records: int
    failures: int  # in a row; 0 after a success
    last_error: str | None


class VulndbStatus(BaseModel):
    stale_after_days: float
    ecosystems: list[EcosystemDataStatus]
    sources: list[VulndbSourceStatus]


class Status(BaseModel):
    version: str
    database: str
    registry: str | None
    tasks: list[TaskStatus]
    events: dict[str, int]
    webhook: dict[str, Any]
    vulndb: VulndbStatus


class WebhookRefusal(BaseModel):
    index: int  # the event's position in the envelope
    reason: str


class WebhookAnswer(BaseModel):
    received: int
    stored: int
    dropped: dict[str, int]
    refused: int = 0  # events not taken (invalid name, digest, timestamp, field...)
    refusals: list[WebhookRefusal] = []  # the first 100 of them


class Allowed(BaseModel):
    """The exception that allows a finding: who allowed it, why, and until when."""

    exception: int
    vulnerability: str
    namespace: str | None  # None: global
    reason: str
    by: str
    until: datetime


class Finding(BaseModel):
    id: str
    aliases: list[str] = []
    severity: str
    package: str
    version: str
    ecosystem: str
    fixed_version: str | None = None
    summary: str | None = None
    links: list[str] = []
    # Set when an exception in force covers it (it then counts toward no verdict or gate).
    allowed: Allowed | None = None


class ScanVerdict(BaseModel):
    label: str  # "Passed", the worst severity found, or "Incomplete"
    complete: bool  # every ecosystem of the image checked against fresh data
    summary: str  # "no known vulnerabilities", or what is missing
    gaps: list[str]  # e.g. "no advisories loaded for Debian 12", "PyPI: data 9 days old"


class TagVulnerabilities(BaseModel):
    tag_id: int
    repository: str
    tag: str
    digest: str
    scan_state: str
    scanned_at: datetime | None
    error: str | None
    severity_counts: dict[str, int]
    vulnerabilities: list[Finding]
    verdict: ScanVerdict | None = None  # None until the scan is done
    allowed: int = 0  # findings an exception allows (not counted by the verdict)


class ScanRequest(BaseModel):
    reference: str = Field(
        min_length=1,
        max_length=1024,
        description="repository:tag or repository@sha256:... on the registry.",
    )
    reuse: bool = Field(
        default=True,
        description="Answer with the background scanner's stored result for the digest when it "
        "has one (kept current by re-matching); false: analyze the image now.",
    )


class ScanReport(BaseModel):
    """What `portside scan --format json` prints."""

    model_config = ConfigDict(extra="allow")

    repository: str
    reference: str
    digest: str
    source: Literal["scanned", "stored"]
    scanned_at: datetime | None = None
    matched_at: datetime | None = None
    os: dict[str, Any] | None
    platforms: list[str]
    packages: list[dict[str, Any]]
    vulnerabilities: list[dict[str, Any]]
    severity_counts: dict[str, int]
    notes: list[str]


# Row ids are 64-bit: an id out of range is a 422, never a database overflow.
MAX_ROW_ID = 2**63 - 1


class RescanRequest(BaseModel):
    tag_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)  # None: every scanned digest


class Accepted(BaseModel):
    queued: int


class RetryRequest(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] | None = Field(
        default=None, max_length=1000
    )  # None: every failed event


class DeletedPublic(BaseModel):
    repository: str
    tags: list[str]
    digests: list[str]
    repository_removed: bool
    index_only: str = Field(
        "",
        description="Why the registry was not asked (a name from before names were checked "
        "that is not a valid distribution name): removed from the index only. Empty otherwise.",
    )
