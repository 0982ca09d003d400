"""`/smart/`: the detail app's launch, its callback, and the page for the patient in context."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from cds_service.components import current_components
from cds_service.errors import SmartLaunchRefused
from cds_service.smart.detail import detail_page

blueprint = Blueprint("smart", __name__, url_prefix="/smart", template_folder="templates")

SESSION_COOKIE = "cdss_smart"
CALLBACK_PATH = "/smart/callback"
# The page runs no script and shows patient data: nothing cached, no other site frames it
# except the EHR's own (frame-ancestors is left to the deployment's proxy, which knows it).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


@blueprint.after_request
def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _redirect_uri() -> str:
    return current_components().settings.server.public_base_url + CALLBACK_PATH


@blueprint.get("/launch")
def launch() -> BaseResponse:
    """EHR launch (`iss` and `launch`) or standalone launch (`iss` only)."""
    iss = request.args.get("iss")
    if not iss:
        raise SmartLaunchRefused("a launch needs the FHIR server's address (iss)")
    launcher = current_components().smart_launcher
    return redirect(launcher.begin(iss, request.args.get("launch"), _redirect_uri()), code=302)


@blueprint.get("/callback")
def callback() -> BaseResponse:
    """The EHR sends the clinician back with a code: exchange it, open the session."""
    if request.args.get("error"):
        raise SmartLaunchRefused("the EHR did not authorize the app")
    state, code = request.args.get("state"), request.args.get("code")
    if not state or not code:
        raise SmartLaunchRefused("the EHR's answer has no state or no code")
    components = current_components()
    session_id = components.smart_launcher.complete(state, code, _redirect_uri())
    response = redirect("/smart/app", code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=components.settings.smart.session_minutes * 60,
        path="/smart",
        httponly=True,
        # Lax, not Strict: the clinician arrives here from the EHR's authorization server.
        samesite="Lax",
        secure=components.settings.server.public_base_url.startswith("https://"),
    )
    return response


@blueprint.get("/app")
def app_page() -> str:
    """The patient in context: each estimate explained."""
    components = current_components()
    session = components.smart_launcher.session(request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        raise SmartLaunchRefused("no launched session: open the app from the EHR")
    page = detail_page(
        session,
        components.gatherer,
        components.risk_models,
        components.settings.smart.fetch_budget_seconds,
    )
    return render_template(
        "smart/detail.html",
        page=page,
        model_cards_url=components.settings.server.public_base_url + "/model-cards",
    )
