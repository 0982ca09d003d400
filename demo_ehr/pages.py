"""The demo EHR's pages: a patient list, a chart that plays `patient-view` and shows the cards,
feedback when a suggestion is accepted or a card dismissed, and SMART launches from a card
(with the card link's appContext).

The patient list shows the demo's cast (`demo_ehr.cast`) first, under its headings and in its
order, each member with its line (why it is in the demo); a patient the FHIR server holds
beyond the cast follows, by name, without one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from cds_service.web.page_headers import send_page_headers
from demo_ehr.authorization import AuthorizationError, DemoAuthorizationServer
from demo_ehr.cast import CastLine, cast_slug
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
CAST_KEY = "demo_ehr_cast"
# The heading of the patients beyond the cast, when there is a cast to set them apart from.
OTHER_PATIENTS = "Other patients on the FHIR server"


@dataclass(frozen=True)
class PatientRow:
    """One patient on the list: where the chart is, who it is, and why it is in the demo."""

    patient_id: str
    name: str
    birth_date: str
    age: int | None
    slug: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PatientGroup:
    """A heading of the list (none when there is no cast) and its patients."""

    heading: str | None
    rows: tuple[PatientRow, ...]


def _player() -> HookPlayer:
    player: HookPlayer = current_app.extensions[PLAYER_KEY]
    return player


def _cast() -> tuple[CastLine, ...]:
    cast: tuple[CastLine, ...] = current_app.extensions[CAST_KEY]
    return cast


def age_on(birth_date: str, today: date) -> int | None:
    """Age in whole years on `today`, or None for a birth date that is missing or not a day."""
    try:
        born = date.fromisoformat(birth_date)
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def patient_groups(
    patients: Iterable[Mapping[str, Any]], cast: Sequence[CastLine], today: date
) -> list[PatientGroup]:
    """The list's groups: the cast's members found on the server, by heading in the cast's
    order, then every other patient by name."""
    lines = {line.slug: line for line in cast}
    members: dict[str, PatientRow] = {}
    others = []
    for patient in patients:
        born = str(patient.get("birthDate", ""))
        row = PatientRow(str(patient["id"]), patient_name(patient), born, age_on(born, today))
        slug = cast_slug(dict(patient))
        line = lines.get(slug) if slug is not None else None
        if line is None:
            others.append(row)
        else:
            members[line.slug] = replace(row, slug=line.slug, reason=line.reason)
    groups: list[PatientGroup] = []
    for line in cast:
        if line.slug not in members:
            continue  # not on this server (yet): nothing to open
        if not groups or groups[-1].heading != line.group:
            groups.append(PatientGroup(line.group, ()))
        groups[-1] = PatientGroup(line.group, (*groups[-1].rows, members[line.slug]))
    if others:
        heading = OTHER_PATIENTS if cast else None
        groups.append(PatientGroup(heading, tuple(sorted(others, key=lambda row: row.name))))
    return groups


def patient_rows(player: HookPlayer) -> list[tuple[str, str, str]]:
    """The FHIR server's patients as (id, name, birth date), by name."""
    listed = [(p["id"], patient_name(p), p.get("birthDate", "")) for p in player.patients()]
    return sorted(listed, key=lambda row: row[1])


@blueprint.get("/")
def patients() -> str:
    """Every patient on the FHIR server: the cast under its headings, then any others."""
    groups = patient_groups(_player().patients(), _cast(), date.today())
    return render_template("demo_ehr/patients.html", groups=groups)


@blueprint.get("/patients/<patient_id>")
def chart(patient_id: str) -> str | tuple[str, int]:
    """The chart opens: `patient-view` to every service, and their cards."""
    player = _player()
    patient = player.patient(patient_id)
    if patient is None:
        # Synthea's histories are loaded afresh at each start, under new ids: their chart
        # bookmarked in an earlier run names nobody now (the written cast keeps its ids).
        return render_template("demo_ehr/no_patient.html"), HTTPStatus.NOT_FOUND
    slug = cast_slug(patient)
    line = next((line for line in _cast() if line.slug == slug), None)
    return render_template(
        "demo_ehr/chart.html",
        patient_id=patient_id,
        name=patient_name(patient),
        patient=patient,
        line=line,
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
