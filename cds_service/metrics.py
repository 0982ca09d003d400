"""Prometheus metrics (served at `GET /metrics`), summed over every worker of the server.

Labels are bounded sets the service itself defines (endpoint names, service ids, indicators,
outcomes, reasons, model names): never a patient, a token, a URL or anything a caller sent.

gunicorn runs several worker processes, and a scrape reaches one of them; so under `cdss serve`
each worker writes its samples to files in a directory the server made at start
(prometheus_client's multiprocess mode) and any worker answers with the sum over all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from cards.cds_card import Card
from fhir_adapters.fhir_server import FETCH_OK

# Hook calls take ~10-50 ms with a full prefetch and up to the FHIR budget (0.8 s) without.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FETCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# The label of a request that matched no route, or named no service this server offers.
UNMATCHED = "unmatched"
NO_SERVICE = ""


class ServiceMetrics:
    """The service's counters and histograms, in one registry per app."""

    def __init__(self, multiprocess_directory: Path | None = None) -> None:
        self._directory = multiprocess_directory
        if multiprocess_directory is not None:
            # prometheus_client picks its value store when it is first imported, from the
            # environment; the server's master may have imported it before it set the directory
            # up, so the worker makes the choice again, before any metric exists.
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        self._registry = CollectorRegistry()
        registry = self._registry
        self.request_seconds = Histogram(
            "cdss_request_duration_seconds",
            "Time to answer a request, by endpoint, CDS service and HTTP status.",
            ["endpoint", "service", "status"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.cards_issued = Counter(
            "cdss_cards_issued",
            "Cards answered, by CDS service and indicator.",
            ["service", "indicator"],
            registry=registry,
        )
        self.feedback_received = Counter(
            "cdss_feedback_received",
            "Feedback entries received, by CDS service and outcome (a resent entry counts again).",
            ["service", "outcome"],
            registry=registry,
        )
        self.fhir_fetch_seconds = Histogram(
            "cdss_fhir_fetch_duration_seconds",
            "Time of one request to an EHR's FHIR server, by outcome.",
            ["outcome"],
            buckets=FETCH_BUCKETS,
            registry=registry,
        )
        self.fhir_fetch_errors = Counter(
            "cdss_fhir_fetch_errors",
            "Failed requests to an EHR's FHIR server, by reason.",
            ["reason"],
            registry=registry,
        )
        self.model_info = Gauge(
            "cdss_model_info",
            "The risk models loaded (1), by name and artifact content hash.",
            ["model", "sha256"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.note_summary_info = Gauge(
            "cdss_note_summary_info",
            "How the note summary chooses its excerpts (1).",
            ["method"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.note_summaries = Counter(
            "cdss_note_summaries",
            "Note summaries a worker made, or served from the store after another made it.",
            ["source"],
            registry=registry,
        )
        self.config_version = Gauge(
            "cdss_config_version",
            "The admin-managed configuration version in force (0: the configuration file's).",
            registry=registry,
            multiprocess_mode="max",
        )
        self.data_not_used = Counter(
            "cdss_data_not_used",
            "Chart data a hook call could not use, by service and kind (a resource type or a "
            "prefetch key: no ids, no values).",
            ["service", "kind"],
            registry=registry,
        )
        self.admin_refused = Counter(
            "cdss_admin_refused",
            "Admin requests refused, by reason.",
            ["reason"],
            registry=registry,
        )

    def loaded(self, model_hashes: Mapping[str, str], note_method: str) -> None:
        """Say which models this worker serves."""
        for model, sha256 in model_hashes.items():
            self.model_info.labels(model, sha256).set(1)
        self.note_summary_info.labels(note_method).set(1)

    def note_summary(self, source: str) -> None:
        """Count one note summary: made by this worker, or shared by another through the store."""
        self.note_summaries.labels(source).inc()

    def fhir_fetch(self, seconds: float, outcome: str) -> None:
        """One request to a FHIR server: `FETCH_OK` or the reason it failed."""
        self.fhir_fetch_seconds.labels(outcome).observe(seconds)
        if outcome != FETCH_OK:
            self.fhir_fetch_errors.labels(outcome).inc()

    def cards(self, service_id: str, cards: Iterable[Card]) -> None:
        """Count the cards of one answer."""
        for card in cards:
            self.cards_issued.labels(service_id, card.indicator.value).inc()

    def data_issues(self, service_id: str, kinds: Iterable[str]) -> None:
        """Count the data one call could not use, by kind (`DataIssue.kind`)."""
        for kind in kinds:
            self.data_not_used.labels(service_id, kind).inc()

    def feedback(self, service_id: str, outcomes: Iterable[str]) -> None:
        """Count the entries of one feedback call."""
        for outcome in outcomes:
            self.feedback_received.labels(service_id, outcome).inc()

    def _combined(self) -> CollectorRegistry:
        """The registry over every worker when the server runs several, else this process's."""
        if self._directory is None:
            return self._registry
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=str(self._directory))  # type: ignore[no-untyped-call]
        return combined

    def exposition(self) -> bytes:
        """The text format, over every worker when the server runs several."""
        return generate_latest(self._combined())

    def data_not_used_counts(self) -> dict[tuple[str, str], int]:
        """Since start, over every worker: how often each service met each kind of data it could
        not use, by (service, kind); for the administrators' view."""
        counts: dict[tuple[str, str], int] = {}
        for family in self._combined().collect():
            if family.name != "cdss_data_not_used":
                continue
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = (sample.labels["service"], sample.labels["kind"])
                    counts[key] = counts.get(key, 0) + int(sample.value)
        return counts
