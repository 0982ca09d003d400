"""Every request timed into the service's metrics, by endpoint, service and status."""

from __future__ import annotations

import time
from collections.abc import Iterable

from flask import Flask, Response, g, request

from cds_service.metrics import NO_SERVICE, UNMATCHED, ServiceMetrics


def time_requests(app: Flask, metrics: ServiceMetrics, service_ids: Iterable[str]) -> None:
    """Observe every request's duration, by endpoint, service and status."""
    known_services = frozenset(service_ids)

    def start_clock() -> None:
        g.request_started = time.perf_counter()

    def observe(response: Response) -> Response:
        started = g.get("request_started")
        if started is None:
            return response
        service = (request.view_args or {}).get("service_id", NO_SERVICE)
        if service not in known_services:
            service = NO_SERVICE if service == NO_SERVICE else UNMATCHED
        metrics.request_seconds.labels(
            request.endpoint or UNMATCHED, service, str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

    app.before_request(start_clock)
    app.after_request(observe)
