"""`/admin`: the admin page, server-rendered HTML with plain forms (no script, no build step).

Signing in takes an admin token once and opens a session kept in the database (the cookie holds
a random id: HttpOnly, SameSite=Strict, Secure under HTTPS, scoped to /admin). Every form carries
the session's CSRF token. Changes go through the same `ConfigAdministration` as the JSON API, so
they are validated, versioned and audited alike; a form based on a version no longer in force
is refused rather than silently overwriting a colleague's change.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from cds_service.admin.access import BAD_FORM, WRONG_TOKEN, AdminActor
from cds_service.components import Components
from cds_service.errors import CdssError, InvalidRequest, Problem
from cds_service.storage.admin_records import AdminSession
from cds_service.storage.feedback_summary import summarize_feedback
from cds_service.web.context import current_components
from cds_service.web.page_headers import send_page_headers
from models.criteria import STAGE1_PRESSURE_TEXT

blueprint = Blueprint("admin_page", __name__, url_prefix="/admin", template_folder="templates")

SESSION_COOKIE = "cdss_admin"
RISKS = {
    "diabetes": "Undiagnosed dysglycemia (diabetes-risk)",
    "unmeasured_blood_pressure": f"BP >= {STAGE1_PRESSURE_TEXT} if measured (hypertension-risk)",
    "hypertension_incidence": "4-year hypertension, Framingham (hypertension-risk, at most info)",
}
BANDS = ("low", "moderate", "high")
INDICATORS = ("none", "info", "warning", "critical")
SUMMARY_DAYS = 30
RECENT_ENTRIES = 20
# No script runs on these pages, no other site may frame them, and nothing is cached.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


send_page_headers(blueprint, SECURITY_HEADERS)


@blueprint.get("")
def dashboard() -> BaseResponse | str:
    """The configuration, the feedback summary, the history and the audit log."""
    session = _session()
    if session is None:
        return _to_sign_in()
    return _render_dashboard(session, saved=request.args.get("saved"))


@blueprint.get("/sign-in")
def sign_in_form() -> str:
    """The sign-in form."""
    return render_template("admin/sign_in.html", error=None)


@blueprint.post("/sign-in")
def sign_in() -> BaseResponse | tuple[str, int]:
    """Check the token; open a session."""
    components = current_components()
    gate = components.admin_gate
    # The token first: a valid one signs in whatever its address did (`cds_service.admin.access`).
    actor = gate.actor_for(request.form.get("token", "").strip())
    if actor is None:
        gate.refuse(request.remote_addr, WRONG_TOKEN, request.path)  # 429 once throttled
        return render_template("admin/sign_in.html", error="That token is not valid."), 401
    lifetime = timedelta(minutes=components.settings.admin.session_minutes)
    session_id, _ = components.admin_sessions.open(actor.name, lifetime, request.remote_addr)
    response = redirect("/admin", code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(lifetime.total_seconds()),
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=components.settings.server.public_base_url.startswith("https://"),
    )
    return response


@blueprint.post("/sign-out")
def sign_out() -> BaseResponse:
    """End the session."""
    if _form_session() is None:
        return _to_sign_in()
    current_components().admin_sessions.close(
        request.cookies.get(SESSION_COOKIE, ""), request.remote_addr
    )
    response = redirect("/admin/sign-in", code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@blueprint.post("/services")
def switch_services() -> BaseResponse | tuple[str, int]:
    """Switch services on and off."""
    session = _form_session()
    if session is None:
        return _to_sign_in()
    services = current_components().catalog.all()
    patch = {"services": {s.id: {"enabled": f"enabled:{s.id}" in request.form} for s in services}}
    return _apply(session, patch)


@blueprint.post("/cards")
def change_cards() -> BaseResponse | tuple[str, int]:
    """Change bands, indicators, suppression periods and the FHIR budget."""
    session = _form_session()
    if session is None:
        return _to_sign_in()
    form = request.form
    cards: dict[str, Any] = {
        risk: {
            "moderate_from": _fraction(form.get(f"{risk}.moderate_from", "")),
            "high_from": _fraction(form.get(f"{risk}.high_from", "")),
            "indicators": {band: form.get(f"{risk}.indicators.{band}", "") for band in BANDS},
        }
        for risk in RISKS
    }
    cards["suppress_overridden_days"] = _number(form.get("suppress_overridden_days", ""))
    cards["suppress_accepted_days"] = _number(form.get("suppress_accepted_days", ""))
    budget = _number(form.get("fetch_budget_seconds", ""))
    return _apply(session, {"cards": cards, "fhir": {"fetch_budget_seconds": budget}})


@blueprint.post("/rollback")
def roll_back() -> BaseResponse | tuple[str, int]:
    """Put an earlier version in force again."""
    session = _form_session()
    if session is None:
        return _to_sign_in()
    version = request.form.get("version", "")
    components = current_components()
    try:
        if not version.isdigit():
            raise InvalidRequest("invalid form", [Problem("version", "must be a version number")])
        stored = components.config_admin.rollback(
            int(version), AdminActor(session.actor), request.remote_addr, comment=_comment()
        )
    except CdssError as error:
        return _render_dashboard(session, error=error), error.status
    return redirect(f"/admin?saved={stored.version}", code=303)


def _apply(session: AdminSession, patch: Mapping[str, Any]) -> BaseResponse | tuple[str, int]:
    components = current_components()
    based_on = request.form.get("based_on", "")
    try:
        stored = components.config_admin.patch(
            dict(patch),
            AdminActor(session.actor),
            request.remote_addr,
            comment=_comment(),
            expected_version=int(based_on) if based_on.isdigit() else None,
        )
    except CdssError as error:
        return _render_dashboard(session, error=error), error.status
    return redirect(f"/admin?saved={stored.version}", code=303)


def _render_dashboard(
    session: AdminSession, *, saved: str | None = None, error: CdssError | None = None
) -> str:
    components: Components = current_components()
    until = datetime.now(UTC)
    since = until - timedelta(days=SUMMARY_DAYS)
    in_force = components.live_config.current()
    return render_template(
        "admin/dashboard.html",
        session=session,
        in_force=in_force,
        config=in_force.config.to_json(),
        services=components.catalog.all(),
        risks=RISKS,
        bands=BANDS,
        indicators=INDICATORS,
        summary=summarize_feedback(components.engine, since, until),
        summary_days=SUMMARY_DAYS,
        history=components.config_admin.history(RECENT_ENTRIES),
        audit=components.audit_log.recent(RECENT_ENTRIES),
        saved=saved,
        error=error,
    )


def _session() -> AdminSession | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    return current_components().admin_sessions.find(session_id)


def _form_session() -> AdminSession | None:
    """The session of a form post (None: signed out); a wrong CSRF token is refused, audited
    (429 once the address is throttled). A valid session and token pass whatever the address did."""
    components = current_components()
    session = _session()
    if session is None:
        return None
    if not hmac.compare_digest(request.form.get("csrf_token", ""), session.csrf_token):
        raise components.admin_gate.refuse(request.remote_addr, BAD_FORM, request.path)
    return session


def _to_sign_in() -> BaseResponse:
    return redirect("/admin/sign-in", code=303)


def _comment() -> str | None:
    comment = request.form.get("comment", "").strip()
    return comment or None


def _number(raw: str) -> Any:
    # A value that is not a number goes on as text, for the validator to refuse and name.
    try:
        value = float(raw)
    except ValueError:
        return raw
    return int(value) if value.is_integer() else value


def _fraction(raw: str) -> Any:
    # The page shows thresholds as percentages; the configuration holds probabilities.
    value = _number(raw)
    return round(value / 100, 6) if isinstance(value, int | float) else value
