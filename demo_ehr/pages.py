"""The demo EHR's pages: a patient list, a chart that plays `patient-view` and shows the cards,
feedback when a suggestion is accepted or a card dismissed, and SMART launches from a card
(with the card link's appContext)."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from cds_service.web.page_headers import send_page_headers
from demo_ehr.authorization import AuthorizationError, DemoAuthorizationServer
from demo_ehr.hook_player import HookPlayer, patient_name

# The root path is given, not looked up from the import name (see `app.PACKAGE_DIR`).
blueprint = Blueprint(
    "demo_pages",
    __name__,
    template_folder="templates",
    root_path=str(Path(__file__).resolve().parent),
)

# The chart shows Markdown from a CDS service: nothing in it may load from elsewhere (a remote
# image would tell its server who opened which chart), and the pages run no script.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
send_page_headers(blueprint, SECURITY_HEADERS)

PLAYER_KEY = "demo_ehr_player"
AUTHORIZATION_KEY = "demo_ehr"
CDS_BASE_KEY = "demo_ehr_cds_base"
FHIR_BASE_KEY = "demo_ehr_fhir_base"


def _player() -> HookPlayer:
    player: HookPlayer = current_app.extensions[PLAYER_KEY]
    return player


def patient_rows(player: HookPlayer) -> list[tuple[str, str, str]]:
    """The FHIR server's patients as (id, name, birth date), by name."""
    listed = [(p["id"], patient_name(p), p.get("birthDate", "")) for p in player.patients()]
    return sorted(listed, key=lambda row: row[1])


@blueprint.get("/")
def patients() -> str:
    """Every patient on the FHIR server."""
    return render_template("demo_ehr/patients.html", patients=patient_rows(_player()))


@blueprint.get("/patients/<patient_id>")
def chart(patient_id: str) -> str | tuple[str, int]:
    """The chart opens: `patient-view` to every service, and their cards."""
    player = _player()
    patient = player.patient(patient_id)
    if patient is None:
        # The demo makes its patients afresh at each start, under new ids: a chart bookmarked
        # in an earlier run names nobody now.
        return render_template("demo_ehr/no_patient.html"), HTTPStatus.NOT_FOUND
    return render_template(
        "demo_ehr/chart.html",
        patient_id=patient_id,
        name=patient_name(patient),
        patient=patient,
        answers=player.open_chart(patient_id),
        sent=request.args.get("sent"),
    )


@blueprint.post("/patients/<patient_id>/accept")
def accept(patient_id: str) -> BaseResponse:
    """The clinician accepted a suggestion: feedback `accepted`."""
    form = request.form
    _player().send_feedback(
        form["service"],
        {
            "card": form["card"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": form["suggestion"]}],
        },
    )
    return redirect(f"/patients/{patient_id}?sent=accepted", code=303)


@blueprint.post("/patients/<patient_id>/dismiss")
def dismiss(patient_id: str) -> BaseResponse:
    """The clinician dismissed a card with a reason: feedback `overridden`."""
    form = request.form
    entry: dict[str, object] = {"card": form["card"], "outcome": "overridden"}
    system, _, code = form.get("reason", "").partition("|")
    if code:
        reason = {"system": system, "code": code} if system else {"code": code}
        entry["overrideReason"] = {"reason": reason}
    _player().send_feedback(form["service"], entry)
    return redirect(f"/patients/{patient_id}?sent=dismissed", code=303)


@blueprint.get("/patients/<patient_id>/launch")
def launch(patient_id: str) -> BaseResponse:
    """Launch a card's SMART app with this patient in context and the link's appContext."""
    url = request.args.get("url", "")
    if not url.startswith(current_app.extensions[CDS_BASE_KEY] + "/"):
        abort(400)  # only the CDS service's own apps: no open redirect
    authorization: DemoAuthorizationServer = current_app.extensions[AUTHORIZATION_KEY]
    try:
        launch_id = authorization.create_launch(patient_id, request.args.get("appContext"))
    except AuthorizationError:
        abort(400)  # an appContext too long to carry
    parameters = {"iss": current_app.extensions[FHIR_BASE_KEY], "launch": launch_id}
    return redirect(f"{url}?{urlencode(parameters)}", code=302)
