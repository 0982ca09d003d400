"""The demo EHR's application factory and views.

    GET  /                                       the patients; /patients/<id> opens a chart
                                                 (`demo_ehr.pages`)
    GET  /fhir/.well-known/smart-configuration   SMART discovery of the front's FHIR base
    GET  /fhir/<type>[/<id>][?...]               the FHIR front: tokens this EHR issued, one
                                                 patient each, passed on to the real FHIR server
    GET  /authorize                              approves a registered client at once (PKCE S256);
                                                 a standalone launch first lists the patients
    POST /token                                  the code and its PKCE verifier for a token
    POST /launches                               {"patient": id[, "appContext": s]}
                                                 -> {"launch": ...}: a chart opened

The FHIR front enforces what sekmet does not: a token reads only its patient's compartment
(a read of that Patient, searches naming that patient, and Binary attachments).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from flask import Flask, Response, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from demo_ehr import pages
from demo_ehr.authorization import AuthorizationError, DemoAuthorizationServer
from demo_ehr.card_markdown import render_card_markdown
from demo_ehr.cast import CastLine
from demo_ehr.hook_player import HookPlayer

FHIR_JSON = "application/fhir+json"
# Given to Flask rather than found from the import name: run inside the test suite, where the
# tests' own `cds_service` folder shadows the package's name, Flask's lookup fails.
PACKAGE_DIR = Path(__file__).resolve().parent
# Searches are limited to the patient by one of these parameters.
PATIENT_PARAMETERS = ("patient", "subject")


@dataclass(frozen=True)
class DemoEhrConfig:
    """Where the demo EHR is reached, the FHIR server behind it, and the apps it knows."""

    public_base_url: str
    upstream_fhir_url: str
    upstream_token: str
    # client_id -> redirect URIs
    clients: Mapping[str, tuple[str, ...]]
    # The CDS service it calls (its public base URL), and how it signs those calls.
    cds_base_url: str
    issuer: str
    signing_key: Mapping[str, Any]
    # The demo's cast, in the patient list's order: each member's heading and line (`cast`).
    cast: tuple[CastLine, ...] = ()


def create_demo_ehr(config: DemoEhrConfig, client: httpx.Client | None = None) -> Flask:
    """The demo EHR as a Flask app."""
    app = Flask(__name__, root_path=str(PACKAGE_DIR))
    base = config.public_base_url.rstrip("/")
    fhir_base = base + "/fhir"
    upstream = config.upstream_fhir_url.rstrip("/")
    authorization = DemoAuthorizationServer(fhir_base, config.clients)
    http = client or httpx.Client(timeout=10)
    app.extensions[pages.AUTHORIZATION_KEY] = authorization
    app.extensions[pages.CDS_BASE_KEY] = config.cds_base_url.rstrip("/")
    app.extensions[pages.FHIR_BASE_KEY] = fhir_base
    player = HookPlayer(
        config.cds_base_url,
        upstream,
        config.upstream_token,
        config.signing_key,
        config.issuer,
        http,
    )
    app.extensions[pages.PLAYER_KEY] = player
    app.extensions[pages.CAST_KEY] = config.cast
    app.add_template_filter(render_card_markdown, "card_markdown")
    app.register_blueprint(pages.blueprint)

    @app.get("/fhir/.well-known/smart-configuration")
    def smart_configuration() -> Response:
        return jsonify(authorization.smart_configuration(base + "/authorize", base + "/token"))

    @app.get("/authorize")
    def authorize() -> BaseResponse | tuple[Response, int]:
        patient = request.args.get("patient")
        try:
            if authorization.needs_patient_choice(request.args, patient):
                return _patient_picker(player)
            target = authorization.authorize(request.args, patient)
        except AuthorizationError as exc:
            return jsonify({"error": exc.code, "error_description": exc.description}), 400
        return redirect(target, code=302)

    @app.post("/token")
    def token() -> tuple[Response, int]:
        try:
            answer = authorization.token(request.form)
        except AuthorizationError as exc:
            return jsonify({"error": exc.code, "error_description": exc.description}), 400
        response = jsonify(answer)
        response.headers["Cache-Control"] = "no-store"
        return response, 200

    @app.post("/launches")
    def launches() -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        patient, app_context = body.get("patient"), body.get("appContext")
        if not isinstance(patient, str) or not patient:
            return jsonify({"error": "patient is required"}), 400
        if app_context is not None and not isinstance(app_context, str):
            return jsonify({"error": "appContext is a string"}), 400
        try:
            launch = authorization.create_launch(patient, app_context)
        except AuthorizationError as exc:
            return jsonify({"error": exc.description}), 400
        return jsonify({"launch": launch, "iss": fhir_base}), 201

    @app.get("/fhir/<path:path>")
    def fhir(path: str) -> Response:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        holder = (
            authorization.token_holder(presented.strip()) if scheme.lower() == "bearer" else None
        )
        if holder is None:
            return _outcome(401, "security", "no valid access token")
        resource_type = path.split("/", 1)[0]
        if not {f"patient/{resource_type}.rs", "patient/*.rs"} & holder.scopes:
            return _outcome(403, "forbidden", f"the token has no scope for {resource_type}")
        if not _in_compartment(path, request.args, holder.patient):
            return _outcome(403, "forbidden", "outside the patient in context")
        answer = http.get(
            f"{upstream}/{path}",
            params=list(request.args.items(multi=True)),
            headers={
                "Authorization": f"Bearer {config.upstream_token}",
                "Accept": request.headers.get("Accept", FHIR_JSON),
                **({"Prefer": request.headers["Prefer"]} if "Prefer" in request.headers else {}),
            },
        )
        if answer.status_code == HTTPStatus.BAD_REQUEST:
            # A search by patient the FHIR server cannot do, answered as the chart's prefetch is
            # (`hook_player.FILTERED_BY_PATIENT`): the app reads what the cards were given.
            filtered = player.read_filtered(
                f"{path}?{urlencode(list(request.args.items(multi=True)))}"
            )
            if filtered is not None:
                return Response(json.dumps(filtered), status=200, content_type=FHIR_JSON)
        # Links in the answer (next pages, attachments) point at this front, not behind it.
        body = answer.content.replace(upstream.encode(), fhir_base.encode())
        return Response(
            body,
            status=answer.status_code,
            content_type=answer.headers.get("Content-Type", FHIR_JSON),
        )

    return app


def _patient_picker(player: HookPlayer) -> Response:
    # Each choice repeats the request exactly, with the patient the user picked added.
    kept = [(name, value) for name, value in request.args.items(multi=True) if name != "patient"]
    choices = [
        (patient_id, f"/authorize?{urlencode([*kept, ('patient', patient_id)])}", name, born)
        for patient_id, name, born in pages.patient_rows(player)
    ]
    page = render_template(
        "demo_ehr/pick_patient.html", client_id=request.args["client_id"], choices=choices
    )
    return Response(page, headers=pages.SECURITY_HEADERS)


def _in_compartment(path: str, query: Mapping[str, Any], patient: str) -> bool:
    parts = path.strip("/").split("/")
    if len(parts) == 2:
        resource_type, resource_id = parts
        return (resource_type == "Patient" and resource_id == patient) or resource_type == "Binary"
    if len(parts) != 1:
        return False
    named = [query.get(name) for name in PATIENT_PARAMETERS if query.get(name)]
    return bool(named) and all(value in (patient, f"Patient/{patient}") for value in named)


def _outcome(status: int, code: str, message: str) -> Response:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }
    response = jsonify(outcome)
    response.status_code = status
    response.content_type = FHIR_JSON
    return response
