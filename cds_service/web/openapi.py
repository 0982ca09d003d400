"""`GET /openapi.json`: an OpenAPI 3.1 description of every endpoint the service answers.

The request schemas are drawn from the pydantic models that validate the requests
(`protocol.HookRequest`, `protocol.FeedbackRequest`, `managed_config.ManagedConfig`), the card
schema from `cards.cds_card.Card`, and the other answers from `cds_service.web.openapi_models`,
so the document cannot drift from what the views check. It is built once, when the app is made
(`publish`), and served as it is; tests/cds_service/test_openapi.py fails when a route of the
app is missing from it, and test_schema_fuzz.py fuzzes `cdss serve` from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cds_service.protocol import FeedbackRequest, HookRequest
from cds_service.web import openapi_models as bodies
from cds_service.web.openapi_operations import SCHEMA_REF, SECURITY_SCHEMES, TAGS
from cds_service.web.openapi_paths import DOCUMENT_PATH, all_paths

OPENAPI_VERSION = "3.1.0"
DOCUMENT_KEY = "cdss.openapi"
# Every body the document describes; the models they refer to come along.
DOCUMENTED_MODELS: tuple[type[BaseModel], ...] = (
    HookRequest,
    FeedbackRequest,
    bodies.ConfigReplacement,
    bodies.ConfigPatch,
    bodies.ConfigRollback,
    bodies.OperationOutcome,
    bodies.Discovery,
    bodies.CdsHooksResponse,
    bodies.FeedbackReceipt,
    bodies.Liveness,
    bodies.Readiness,
    bodies.ConfigInForce,
    bodies.StoredConfigVersion,
    bodies.ConfigHistory,
    bodies.FeedbackSummary,
    bodies.AuditLog,
    bodies.DataNotUsed,
)

# Rules the models check in validators, which pydantic's schema cannot see: said as JSON Schema
# formats, so that a client (or the fuzz run) knows them before sending.
VALIDATED_FORMATS: Mapping[tuple[str, str], str] = {
    ("HookRequest", "hookInstance"): "uuid",
    ("FeedbackEntry", "outcomeTimestamp"): "date-time",
}

blueprint = Blueprint("openapi", __name__)


@blueprint.get(DOCUMENT_PATH)
def openapi_document() -> Response:
    """The OpenAPI document made when the app was built."""
    return jsonify(current_app.extensions[DOCUMENT_KEY])


def publish(app: Flask, public_base_url: str, service_ids: Sequence[str]) -> None:
    """Build the document once, at start-up, for `openapi_document` to serve."""
    app.extensions[DOCUMENT_KEY] = build_document(public_base_url, service_ids)


def build_document(public_base_url: str, service_ids: Sequence[str]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of this service, serving `service_ids` at `public_base_url`."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "CDS Hooks risk service",
            "version": "1",
            "description": "CDS Hooks 2.0 services (discovery, hook calls, feedback), the admin "
            "JSON API, the admin page, the SMART detail app and the operations endpoints. "
            "Error bodies are FHIR OperationOutcomes that name fields, never the values sent.",
        },
        "servers": [{"url": public_base_url}],
        "tags": [{"name": tag} for tag in TAGS],
        "paths": all_paths(service_ids),
        "components": {"schemas": component_schemas(), "securitySchemes": SECURITY_SCHEMES},
    }


def component_schemas() -> dict[str, Any]:
    """The JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of every documented body."""
    _, top = models_json_schema(
        [(model, "validation") for model in DOCUMENTED_MODELS], ref_template=SCHEMA_REF
    )
    schemas: dict[str, Any] = top.get("$defs", {})
    for (model, field), format_name in VALIDATED_FORMATS.items():
        schemas[model]["properties"][field]["format"] = format_name
    return schemas
