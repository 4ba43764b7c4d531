"""Prometheus metrics of one Portside process (``GET /metrics``).

Everything lives in a registry of this process's own (nothing at import time). Counters and
histograms are fed by callbacks the components call; queue depths are read from the database
at scrape time, so any process reports the shared queues.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from portside.events.ingest import IngestStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


class _IngestCollector(Collector):
    def __init__(self, stats: IngestStats):
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        received = CounterMetricFamily(
            "portside_webhook_events_received", "Events in notifications the webhook accepted."
        )
        received.add_metric([], self.stats.received)
        stored = CounterMetricFamily("portside_webhook_events_stored", "New events stored.")
        stored.add_metric([], self.stats.stored)
        dropped = CounterMetricFamily(
            "portside_webhook_events_dropped", "Events not kept, by reason.", labels=["reason"]
        )
        for reason, n in sorted(self.stats.dropped.items()):
            dropped.add_metric([reason], n)
        refused = CounterMetricFamily(
            "portside_webhook_events_refused",
            "Events refused (invalid name, tag, digest, timestamp or field), by reason.",
            labels=["reason"],
        )
        for reason, n in sorted(self.stats.refused.items()):
            refused.add_metric([reason], n)
        clamped = CounterMetricFamily(
            "portside_webhook_timestamps_clamped",
            "Event timestamps too far ahead of this clock, recorded as the receive time.",
        )
        clamped.add_metric([], self.stats.clamped)
        yield from (received, stored, dropped, refused, clamped)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.registry_requests = Histogram(
            "portside_registry_request_seconds",
            "Requests to the registry, by endpoint and status.",
            ["endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.task_runs = Histogram(
            "portside_task_run_seconds",
            "Background task runs.",
            ["task"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.task_errors = Counter(
            "portside_task_errors", "Background task runs that raised.", ["task"], registry=r
        )
        self.events = Counter(
            "portside_events", "Registry events processed, by outcome.", ["outcome"], registry=r
        )
        self.sync_changes = Counter(
            "portside_sync_changes", "Changes the sync applied, by kind.", ["kind"], registry=r
        )
        self.scans = Counter("portside_scans", "Image scans, by outcome.", ["outcome"], registry=r)
        self.scan_requests = Histogram(
            "portside_scan_request_seconds",
            "Scans on request (POST /api/v1/scans) answered, by source (scanned, stored).",
            ["source"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.vulndb_records = Gauge(
            "portside_vulndb_records",
            "Advisories loaded, by OSV ecosystem.",
            ["ecosystem"],
            registry=r,
        )
        self.vulndb_updated = Gauge(
            "portside_vulndb_last_success_timestamp_seconds",
            "When a source holding the ecosystem's data last updated (Unix time).",
            ["ecosystem"],
            registry=r,
        )
        self.vulndb_age = Gauge(
            "portside_vulndb_age_seconds",
            "Age of the ecosystem's data: seconds since its last successful update.",
            ["ecosystem"],
            registry=r,
        )
        self.vulndb_failures = Gauge(
            "portside_vulndb_source_failures",
            "Failed fetches in a row, by vulnerability data source.",
            ["source"],
            registry=r,
        )
        self.queue = Gauge(
            "portside_queue_depth",
            "Items waiting or in progress, by queue and status.",
            ["queue", "status"],
            registry=r,
        )

    def set_vulndata(
        self,
        ecosystems: Iterable[tuple[str, int, datetime | None, float | None]],
        sources: Iterable[tuple[str, int]],
    ) -> None:
        """The data loaded per ecosystem and each source's failures, as read at scrape time
        (an ecosystem or source no longer there is dropped)."""
        for gauge in (self.vulndb_records, self.vulndb_updated, self.vulndb_age):
            gauge.clear()
        self.vulndb_failures.clear()
        for ecosystem, records, last_success, age in ecosystems:
            self.vulndb_records.labels(ecosystem).set(records)
            if last_success is not None and age is not None:
                self.vulndb_updated.labels(ecosystem).set(last_success.timestamp())
                self.vulndb_age.labels(ecosystem).set(age)
        for url, failures in sources:
            self.vulndb_failures.labels(url).set(failures)

    def watch_ingest(self, stats: IngestStats) -> None:
        self.registry.register(_IngestCollector(stats))

    def registry_request(self, endpoint: str, status: int | str, seconds: float) -> None:
        self.registry_requests.labels(endpoint, str(status)).observe(seconds)

    def task_run(self, task: str, seconds: float, error: bool, details: dict[str, Any]) -> None:
        self.task_runs.labels(task).observe(seconds)
        if error:
            self.task_errors.labels(task).inc()
        if task == "events":
            batch = details.get("last_batch") or {}
            for outcome in ("done", "retried", "failed"):
                if batch.get(outcome):
                    self.events.labels(outcome).inc(batch[outcome])
        elif task == "sync":
            for kind in ("added", "moved", "removed_tags", "removed_repositories"):
                if details.get(kind):
                    self.sync_changes.labels(kind).inc(details[kind])
        elif task == "scan":
            for outcome, n in (details.get("last_run") or {}).items():
                if n:
                    self.scans.labels(outcome).inc(n)

    def scan_request(self, source: str, seconds: float) -> None:
        self.scan_requests.labels(source).observe(seconds)

    def set_queues(self, events: dict[str, int], scans: dict[str, int]) -> None:
        for status, n in events.items():
            self.queue.labels("events", status).set(n)
        for status, n in scans.items():
            self.queue.labels("scans", status).set(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
