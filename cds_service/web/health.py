"""Operations: `GET /healthz` (the process answers), `GET /readyz` (it can serve: database
reachable) and `GET /metrics` (Prometheus).

The models are verified before a worker accepts requests (it does not start otherwise); readiness
lists which artifacts, by content hash, this worker serves.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST

from cds_service.storage.database import database_is_reachable
from cds_service.web.context import current_components

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def alive() -> dict[str, Any]:
    """Always ok while the process serves requests."""
    return {"status": "ok"}


@blueprint.get("/readyz")
def ready() -> tuple[dict[str, Any], int]:
    """Ready when the database answers; names the model artifacts loaded."""
    components = current_components()
    database_ok = database_is_reachable(components.engine)
    body = {
        "status": "ready" if database_ok else "not-ready",
        "database": "ok" if database_ok else "unreachable",
        "models": components.risk_models.content_hashes(),
        # Which worker process answered (several share the port).
        "worker": os.getpid(),
    }
    return body, 200 if database_ok else 503


@blueprint.get("/metrics")
def metrics() -> Response:
    """The Prometheus text format, over every worker."""
    components = current_components()
    components.metrics.config_version.set(components.live_config.current().version)
    return Response(components.metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
