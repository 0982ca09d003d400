"""`GET /cds-services`: the list of services and the prefetch each one wants."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from cds_service.web.context import current_components

blueprint = Blueprint("discovery", __name__)


@blueprint.get("/cds-services")
def list_services() -> dict[str, Any]:
    """The discovery document: the services switched on."""
    components = current_components()
    config = components.live_config.current()
    return components.catalog.discovery_document(config.enabled)
