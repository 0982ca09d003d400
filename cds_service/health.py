"""`GET /healthz` (the process answers) and `GET /readyz` (it can serve: database reachable)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from cds_service.components import current_components
from cds_service.storage.database import database_is_reachable

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def alive() -> dict[str, Any]:
    """Always ok while the process serves requests."""
    return {"status": "ok"}


@blueprint.get("/readyz")
def ready() -> tuple[dict[str, Any], int]:
    """Ready when the database answers (model checks join here when the models land)."""
    database_ok = database_is_reachable(current_components().engine)
    body = {
        "status": "ready" if database_ok else "not-ready",
        "database": "ok" if database_ok else "unreachable",
    }
    return body, 200 if database_ok else 503
