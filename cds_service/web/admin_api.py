"""The admin JSON endpoints: configuration, its history and rollback, feedback summary, audit.

    GET   /admin/config                the version in force (ETag: its number)
    PUT   /admin/config                {"config": {...every field...}, "comment": "..."}
    PATCH /admin/config                {"config": {...a JSON merge patch...}, "comment": "..."}
    GET   /admin/config/history        ?limit=
    POST  /admin/config/rollback       {"version": N, "comment": "..."}
    GET   /admin/feedback/summary      ?from=&to= (ISO 8601; default the last 30 days)
    GET   /admin/audit                 ?limit=&before=
    GET   /admin/data-not-used         chart data the hook calls could not use, by service and kind

Every request needs `Authorization: Bearer <admin token>` (`cds_service.admin.access`). A
change may send `If-Match: "N"` to be refused (412) if version N is no longer in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from flask import Blueprint, Response, jsonify, request

from cds_service.admin.access import AdminActor
from cds_service.errors import InvalidRequest, Problem
from cds_service.managed_config import ConfigInForce
from cds_service.protocol import parse_json_body
from cds_service.storage.admin_records import AuditEvent, ConfigVersion
from cds_service.storage.feedback_summary import (
    CardTypeFeedback,
    across_issuers,
    summarize_feedback,
)
from cds_service.web.context import current_components

blueprint = Blueprint("admin_api", __name__, url_prefix="/admin")


class ConfigChange(Protocol):
    """`ConfigAdministration.replace` or `.patch`."""

    def __call__(
        self,
        document: Any,
        actor: AdminActor,
        source: str | None,
        *,
        comment: str | None = None,
        expected_version: int | None = None,
    ) -> ConfigVersion: ...


DEFAULT_PERIOD = timedelta(days=30)
MAX_LIMIT = 1000
# The largest audit entry id any backend stores (a signed 64-bit integer key).
MAX_ENTRY_ID = 2**63 - 1


def _administrator() -> AdminActor:
    gate = current_components().admin_gate
    return gate.authenticate(
        request.headers.get("Authorization", ""), request.remote_addr, request.path
    )


@blueprint.get("/config")
def read_config() -> Response:
    """The configuration in force."""
    _administrator()
    return _config_response(current_components().live_config.current())


@blueprint.put("/config")
def replace_config() -> Response:
    """Put a complete new configuration in force."""
    return _change(current_components().config_admin.replace)


@blueprint.patch("/config")
def patch_config() -> Response:
    """Change some fields of the configuration in force (JSON merge patch)."""
    return _change(current_components().config_admin.patch)


def _change(change: ConfigChange) -> Response:
    actor = _administrator()
    body = _json_object()
    stored = change(
        body.get("config"),
        actor,
        request.remote_addr,
        comment=_comment(body),
        expected_version=_if_match(),
    )
    return jsonify(version_json(stored))


@blueprint.get("/config/history")
def config_history() -> dict[str, Any]:
    """Every stored version, newest first, then version 0 (the configuration file)."""
    _administrator()
    components = current_components()
    versions = [version_json(v) for v in components.config_admin.history(_limit())]
    file_values = components.live_config.file_values
    return {
        "versions": versions,
        "fileVersion": {"version": file_values.version, "config": file_values.config.to_json()},
    }


@blueprint.post("/config/rollback")
def rollback_config() -> Response:
    """Put an earlier version in force again (as a new version)."""
    actor = _administrator()
    body = _json_object()
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise InvalidRequest("invalid rollback", [Problem("version", "must be a version number")])
    stored = current_components().config_admin.rollback(
        version, actor, request.remote_addr, comment=_comment(body)
    )
    return jsonify(version_json(stored))


@blueprint.get("/feedback/summary")
def feedback_summary() -> dict[str, Any]:
    """Per issuer, service and card type (`byIssuer`), and every issuer added up (`cardTypes`):
    issued, accepted, overridden, reasons, acceptance rate."""
    _administrator()
    until = _moment("to") or datetime.now(UTC)
    since = _moment("from") or until - DEFAULT_PERIOD
    if since >= until:
        raise InvalidRequest("invalid period", [Problem("from", "must be before `to`")])
    summary = summarize_feedback(current_components().engine, since, until)
    return {
        "from": since.isoformat(),
        "to": until.isoformat(),
        "cardTypes": [card_type_json(item) for item in across_issuers(summary)],
        "byIssuer": [{"issuer": item.issuer, **card_type_json(item)} for item in summary],
    }


@blueprint.get("/data-not-used")
def data_not_used() -> dict[str, Any]:
    """Since start, by service and kind (a resource type or prefetch key): how often chart data
    could not be used. The clinician reads plain words on the card; the integrator's reasons are
    in the service log (no patient data in either)."""
    _administrator()
    counts = current_components().metrics.data_not_used_counts()
    return {
        "since": "start",
        "dataNotUsed": [
            {"service": service, "kind": kind, "count": count}
            for (service, kind), count in sorted(counts.items())
        ],
    }


@blueprint.get("/audit")
def audit_log() -> dict[str, Any]:
    """The audit log, newest first."""
    _administrator()
    before = request.args.get("before")
    # isascii: "²" is a digit to str.isdigit but not to int(); an id past the largest a database
    # key holds would overflow the driver (SQLite) or the column's type (PostgreSQL).
    if before is not None and not (
        before.isascii() and before.isdigit() and int(before) <= MAX_ENTRY_ID
    ):
        raise InvalidRequest("invalid query", [Problem("before", "must be an entry id")])
    events = current_components().audit_log.recent(
        _limit(), None if before is None else int(before)
    )
    return {"events": [audit_json(event) for event in events]}


def _config_response(in_force: ConfigInForce) -> Response:
    response = jsonify({"version": in_force.version, "config": in_force.config.to_json()})
    response.headers["ETag"] = f'"{in_force.version}"'
    return response


def version_json(version: ConfigVersion) -> dict[str, Any]:
    """A stored version as the API shows it."""
    shown: dict[str, Any] = {
        "version": version.version,
        "createdAt": version.created_at.isoformat(),
        "actor": version.actor,
        "comment": version.comment,
        "changes": list(version.changes),
        "config": dict(version.document),
    }
    if version.restored_from is not None:
        shown["restoredFrom"] = version.restored_from
    return shown


def card_type_json(item: CardTypeFeedback) -> dict[str, Any]:
    """One row of the feedback summary."""
    return {
        "service": item.service_id,
        "cardType": item.card_type,
        "issued": item.issued,
        "accepted": item.accepted,
        "overridden": item.overridden,
        "acceptanceRate": item.acceptance_rate,
        "overrideReasons": [
            {"system": r.system, "code": r.code, "display": r.display, "cards": r.cards}
            for r in item.override_reasons
        ],
    }


def audit_json(event: AuditEvent) -> dict[str, Any]:
    """One audit entry."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "event": event.event,
        "actor": event.actor,
        "source": event.source,
        "detail": event.detail,
    }


def _json_object() -> Mapping[str, Any]:
    body = parse_json_body(request.get_data())
    if not isinstance(body, dict):
        raise InvalidRequest("invalid body", [Problem("", "must be a JSON object")])
    return body


def _comment(body: Mapping[str, Any]) -> str | None:
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidRequest("invalid body", [Problem("comment", "must be a string")])
    return comment


def _if_match() -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    version = header.strip().removeprefix("W/").strip('"')
    if not version.isdigit():
        raise InvalidRequest("invalid header", [Problem("If-Match", 'must be a version, e.g. "3"')])
    return int(version)


def _limit() -> int:
    raw = request.args.get("limit", "100")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequest("invalid query", [Problem("limit", f"must be 1 to {MAX_LIMIT}")])
    return int(raw)


def _moment(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)  # a date alone is its midnight
    except ValueError:
        raise InvalidRequest(
            "invalid query", [Problem(name, "must be an ISO 8601 date or date-time")]
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
