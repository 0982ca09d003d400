"""`/smart/`: the detail app's launch, its callback, and the page for the patient in context."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, make_response, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from cds_service.errors import SmartLaunchRefused, UnknownDocument
from cds_service.managed_config import MODEL_CARDS_PATH
from cds_service.smart.chart_geometry import FRAME
from cds_service.smart.detail import detail_page, note_view
from cds_service.smart.launch import browser_binding
from cds_service.storage.smart_records import SmartSession
from cds_service.web.context import current_components
from cds_service.web.page_headers import send_page_headers

blueprint = Blueprint("smart", __name__, url_prefix="/smart", template_folder="templates")

log = logging.getLogger(__name__)

SESSION_COOKIE = "cdss_smart"
# The launch cookie: the browser binding a launch's `state` is bound to, from launch to callback.
LAUNCH_COOKIE = "cdss_smart_launch"
LAUNCH_COOKIE_PATH = "/smart/"
CALLBACK_PATH = "/smart/callback"
NOTE_RESOURCE_TYPES = frozenset({"DocumentReference", "DiagnosticReport"})
# Elements are short paths like "content[0].attachment"; nothing longer is looked for.
ELEMENT_MAX = 64
# The page runs no script and shows patient data: nothing cached, no other site frames it
# except the EHR's own (frame-ancestors is left to the deployment's proxy, which knows it).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


send_page_headers(blueprint, SECURITY_HEADERS)


def _redirect_uri() -> str:
    return current_components().settings.server.public_base_url + CALLBACK_PATH


@blueprint.get("/launch")
def launch() -> BaseResponse:
    """EHR launch (`iss` and `launch`) or standalone launch (`iss` only)."""
    iss = request.args.get("iss")
    if not iss:
        raise SmartLaunchRefused("a launch needs the FHIR server's address (iss)")
    components = current_components()
    binding = browser_binding(request.cookies.get(LAUNCH_COOKIE))
    authorize = components.smart_launcher.begin(
        iss, request.args.get("launch"), _redirect_uri(), binding
    )
    response = redirect(authorize, code=302)
    response.set_cookie(
        LAUNCH_COOKIE,
        binding,
        # As long as the launch it binds waits for the EHR, no longer.
        max_age=components.settings.smart.launch_minutes * 60,
        path=LAUNCH_COOKIE_PATH,
        httponly=True,
        # Lax, not Strict: it must come back on the authorization server's redirect, a
        # top-level GET from another site.
        samesite="Lax",
        secure=_secure_cookies(),
    )
    return response


@blueprint.get("/callback")
def callback() -> BaseResponse | tuple[str, int]:
    """The EHR sends the clinician back with a code: exchange it, open the session.

    A clinician's browser lands here, so a refusal is a page that says to launch again (the
    refusal's message quotes nothing sent), not the JSON the API's errors are."""
    try:
        session_id = _complete_launch()
    except SmartLaunchRefused as refusal:
        log.info("refused a SMART callback: %s", refusal.message)
        return render_template("smart/refused.html", reason=refusal.message), refusal.status
    response = redirect("/smart/app", code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=current_components().settings.smart.session_minutes * 60,
        path="/smart",
        httponly=True,
        # Lax, not Strict: the clinician arrives here from the EHR's authorization server.
        samesite="Lax",
        secure=_secure_cookies(),
    )
    # Its launch is used up; the binding has nothing left to bind.
    response.delete_cookie(
        LAUNCH_COOKIE,
        path=LAUNCH_COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=_secure_cookies(),
    )
    return response


def _complete_launch() -> str:
    if request.args.get("error"):
        raise SmartLaunchRefused("the EHR did not authorize the app")
    state, code = request.args.get("state"), request.args.get("code")
    if not state or not code:
        raise SmartLaunchRefused("the EHR's answer has no state or no code")
    return current_components().smart_launcher.complete(
        state, code, _redirect_uri(), request.cookies.get(LAUNCH_COOKIE)
    )


def _secure_cookies() -> bool:
    # Behind TLS (the public base URL says so) the cookies never go out over plain http.
    return current_components().settings.server.public_base_url.startswith("https://")


def _session() -> SmartSession:
    session = current_components().smart_launcher.session(request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        raise SmartLaunchRefused("no launched session: open the app from the EHR")
    return session


@blueprint.get("/app")
def app_page() -> Response:
    """The patient in context: each estimate explained, the trends, the notes."""
    components = current_components()
    page = detail_page(
        _session(),
        components.gatherer,
        components.risk_models,
        components.note_summaries.summary_of,
        components.settings.smart.fetch_budget_seconds,
    )
    started = time.perf_counter()
    response = make_response(
        render_template(
            "smart/detail.html",
            page=page,
            banner=page.banner,
            frame=FRAME,
            model_cards_url=components.settings.server.public_base_url + MODEL_CARDS_PATH,
        )
    )
    rendered = ("render", 1000 * (time.perf_counter() - started))
    # Server-Timing (W3C): where the page's time went, for a browser's developer tools and the
    # benchmark; durations only, nothing about the patient.
    response.headers["Server-Timing"] = ", ".join(
        f"{name};dur={milliseconds:.1f}" for name, milliseconds in (*page.timings, rendered)
    )
    return response


@blueprint.get("/app/notes/<resource_type>/<resource_id>")
def note_page(resource_type: str, resource_id: str) -> str:
    """One of the patient's notes, with the excerpt the summary quoted marked in it."""
    if resource_type not in NOTE_RESOURCE_TYPES:
        raise UnknownDocument("only DocumentReference and DiagnosticReport notes are shown")
    components = current_components()
    view = note_view(
        _session(),
        components.gatherer,
        f"{resource_type}/{resource_id}",
        request.args.get("element", "")[:ELEMENT_MAX],
        _span(request.args.get("start"), request.args.get("end")),
        components.settings.smart.fetch_budget_seconds,
    )
    if view is None:
        raise UnknownDocument("this note is not among the patient's recent notes")
    return render_template("smart/note.html", view=view, banner=view.banner)


def _span(start: str | None, end: str | None) -> tuple[int, int] | None:
    if not (start and end and start.isdecimal() and end.isdecimal()):
        return None
    return int(start), int(end)
