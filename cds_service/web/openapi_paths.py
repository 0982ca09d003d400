"""The paths of the OpenAPI document: every endpoint of the service, by blueprint family."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cds_service.web.openapi_operations import (
    ADMIN_API,
    ADMIN_PAGE,
    ADMIN_SESSION,
    ADMIN_TOKEN,
    CDS_HOOKS,
    CDS_HOOKS_JWT,
    JSON,
    OPERATIONS,
    PROMETHEUS_TEXT,
    SMART_APP,
    SMART_SESSION,
    answer,
    body,
    form,
    operation,
    page,
    page_or_outcome,
    parameter,
    query_parameters,
    redirect,
    ref,
)

DOCUMENT_PATH = "/openapi.json"


def all_paths(service_ids: Sequence[str]) -> dict[str, Any]:
    """Every path the app serves, with its operations."""
    return {
        **_cds_hooks_paths(service_ids),
        **_admin_api_paths(),
        **_admin_page_paths(),
        **_smart_paths(),
        **_operations_paths(),
    }


def _cds_hooks_paths(service_ids: Sequence[str]) -> dict[str, Any]:
    service_id = parameter(
        "service_id", "path", {"type": "string", "enum": list(service_ids)}, "A service's id."
    )
    return {
        "/cds-services": {
            "get": operation(
                "discover",
                "The CDS services on offer and the prefetch each wants.",
                CDS_HOOKS,
                {"200": answer("The discovery document.", "Discovery")},
            )
        },
        "/cds-services/{service_id}": {
            "post": operation(
                "callService",
                "A hook call, answered with cards.",
                CDS_HOOKS,
                {
                    "200": answer(
                        "The cards (none when there is nothing to say).", "CdsHooksResponse"
                    )
                },
                (400, 401, 404, 412),
                security=CDS_HOOKS_JWT,
                parameters=[service_id],
                request_body=body(JSON, ref("HookRequest")),
            )
        },
        "/cds-services/{service_id}/feedback": {
            "post": operation(
                "sendFeedback",
                "What clinicians did with the cards issued to this caller; a batch is stored "
                "whole or refused whole.",
                CDS_HOOKS,
                {"200": answer("Stored.", "FeedbackReceipt")},
                (400, 401, 404),
                security=CDS_HOOKS_JWT,
                parameters=[service_id],
                request_body=body(JSON, ref("FeedbackRequest")),
            )
        },
    }


_LIMIT = parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000})
_IF_MATCH = parameter(
    "If-Match", "header", {"type": "string"}, 'The version the change is based on, e.g. "3".'
)
_MOMENT = {"type": "string", "description": "ISO 8601 date or date-time (UTC when no offset)."}


def _admin(
    operation_id: str, summary: str, model: str, errors: Iterable[int] = (), **more: Any
) -> dict[str, Any]:
    return operation(
        operation_id,
        summary,
        ADMIN_API,
        {"200": answer(summary, model)},
        (401, 429, *errors),
        security=ADMIN_TOKEN,
        **more,
    )


def _admin_api_paths() -> dict[str, Any]:
    change: dict[str, Any] = {"errors": (400, 409, 412), "parameters": [_IF_MATCH]}
    return {
        "/admin/config": {
            "get": _admin(
                "readConfig", "The configuration in force (ETag: its version).", "ConfigInForce"
            ),
            "put": _admin(
                "replaceConfig",
                "Put a complete new configuration in force.",
                "StoredConfigVersion",
                request_body=body(JSON, ref("ConfigReplacement")),
                **change,
            ),
            "patch": _admin(
                "patchConfig",
                "Change some fields of the configuration (JSON merge patch).",
                "StoredConfigVersion",
                request_body=body(JSON, ref("ConfigPatch")),
                **change,
            ),
        },
        "/admin/config/history": {
            "get": _admin(
                "configHistory",
                "Every stored version, newest first.",
                "ConfigHistory",
                (400,),
                parameters=[_LIMIT],
            )
        },
        "/admin/config/rollback": {
            "post": _admin(
                "rollbackConfig",
                "Put an earlier version in force again, as a new version.",
                "StoredConfigVersion",
                (400, 409),
                request_body=body(JSON, ref("ConfigRollback")),
            )
        },
        "/admin/feedback/summary": {
            "get": _admin(
                "feedbackSummary",
                "Card feedback per issuer, service and card type.",
                "FeedbackSummary",
                (400,),
                parameters=[
                    parameter("from", "query", _MOMENT),
                    parameter("to", "query", _MOMENT),
                ],
            )
        },
        "/admin/audit": {
            "get": _admin(
                "auditLog",
                "The audit log, newest first.",
                "AuditLog",
                (400,),
                parameters=[
                    _LIMIT,
                    parameter("before", "query", {"type": "integer", "minimum": 0}, "An entry id."),
                ],
            )
        },
        "/admin/data-not-used": {
            "get": _admin("dataNotUsed", "Chart data the hook calls could not use.", "DataNotUsed")
        },
    }


def _admin_form(operation_id: str, summary: str, *fields: str) -> dict[str, Any]:
    # A form always carries the session's CSRF token. A change the configuration refuses is
    # answered with the dashboard page and the error's status; a malformed form, with JSON.
    return operation(
        operation_id,
        summary,
        ADMIN_PAGE,
        {
            "303": redirect("Done, or no session: to the next page."),
            **{str(status): page_or_outcome(status) for status in (400, 409, 412)},
        },
        (401, 429),
        security=ADMIN_SESSION,
        request_body=form("csrf_token", *fields),
    )


def _admin_page_paths() -> dict[str, Any]:
    return {
        "/admin": {
            "get": operation(
                "adminDashboard",
                "The configuration, feedback summary, history and audit log.",
                ADMIN_PAGE,
                {"200": page("The dashboard."), "303": redirect("No session: to sign in.")},
                security=ADMIN_SESSION,
            )
        },
        "/admin/sign-in": {
            "get": operation(
                "adminSignInForm", "The sign-in form.", ADMIN_PAGE, {"200": page("The form.")}
            ),
            "post": operation(
                "adminSignIn",
                "Check an admin token; open a session (cookie).",
                ADMIN_PAGE,
                {"303": redirect("Signed in."), "401": page("The token is not valid.")},
                (429,),
                request_body=form("token"),
            ),
        },
        "/admin/sign-out": {"post": _admin_form("adminSignOut", "End the session.")},
        "/admin/services": {"post": _admin_form("adminSwitchServices", "Switch services.")},
        "/admin/cards": {"post": _admin_form("adminChangeCards", "Change bands and cards.")},
        "/admin/rollback": {
            "post": _admin_form("adminRollback", "Roll back.", "version", "comment")
        },
    }


def _smart_paths() -> dict[str, Any]:
    no_session = (400,)
    return {
        "/smart/launch": {
            "get": operation(
                "smartLaunch",
                "EHR launch (`iss`, `launch`) or standalone launch (`iss`) of the detail app.",
                SMART_APP,
                {"302": redirect("To the EHR's authorization server.")},
                (400,),
                parameters=query_parameters("iss", "launch"),
            )
        },
        "/smart/callback": {
            "get": operation(
                "smartCallback",
                "The EHR's authorization answer: the code is exchanged, a session opened.",
                SMART_APP,
                # A clinician's browser lands here: a refusal is a page saying to launch again.
                {"303": redirect("To the app."), "400": page_or_outcome(400)},
                parameters=query_parameters("state", "code", "error"),
            )
        },
        "/smart/app": {
            "get": operation(
                "smartApp",
                "The patient in context: each estimate explained, the trends, the notes.",
                SMART_APP,
                {"200": page("The page.")},
                no_session,
                security=SMART_SESSION,
            )
        },
        "/smart/app/notes/{resource_type}/{resource_id}": {
            "get": operation(
                "smartNote",
                "One of the patient's notes, the quoted excerpt marked.",
                SMART_APP,
                {"200": page("The note.")},
                (*no_session, 404),
                security=SMART_SESSION,
                parameters=[
                    parameter("resource_type", "path", {"type": "string"}),
                    parameter("resource_id", "path", {"type": "string"}),
                    *query_parameters("element", "start", "end"),
                ],
            )
        },
    }


def _operations_paths() -> dict[str, Any]:
    model_card = {
        "description": "A model card (Markdown) or one of its plots (PNG).",
        "content": {
            "text/markdown": {"schema": {"type": "string"}},
            "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}},
        },
    }
    return {
        DOCUMENT_PATH: {
            "get": operation(
                "openApiDocument",
                "This document.",
                OPERATIONS,
                {"200": {"description": "OpenAPI 3.1.", **body(JSON, {"type": "object"})}},
            )
        },
        "/healthz": {
            "get": operation(
                "alive", "The process answers.", OPERATIONS, {"200": answer("Alive.", "Liveness")}
            )
        },
        "/readyz": {
            "get": operation(
                "ready",
                "Ready when the database answers; the model artifacts this worker serves.",
                OPERATIONS,
                {
                    "200": answer("Ready.", "Readiness"),
                    "503": answer("The database does not answer.", "Readiness"),
                },
            )
        },
        "/metrics": {
            "get": operation(
                "metrics",
                "Prometheus text format, over every worker.",
                OPERATIONS,
                {"200": {"description": "Metrics.", **body(PROMETHEUS_TEXT, {"type": "string"})}},
            )
        },
        "/model-cards/{name}": {
            "get": operation(
                "modelCard",
                "The model cards the risk cards link to, and their plots.",
                OPERATIONS,
                {"200": model_card},
                (404,),
                parameters=[parameter("name", "path", {"type": "string"})],
            )
        },
    }
