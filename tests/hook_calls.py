"""Calling a running service the way an EHR does: a diabetes-risk chart, a hook call, feedback."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from card_rules import check_response
from conftest import Mint, patient_view_request
from support import CdssServer

from fhir_adapters.record_builder import build_patient_record
from models.prediction import RiskEstimate
from models.registry import load_risk_models

DIABETES_PATH = "/cds-services/diabetes-risk"
TODAY = datetime.now(UTC).date()
UCUM = "http://unitsofmeasure.org"
EMPTY = {"resourceType": "Bundle", "type": "searchset", "total": 0}
# A man of 62 whose only measurement is this BMI: moderate, then high dysglycemia risk with the
# shipped model and the default bands (each test using them checks it).
MODERATE_BMI, HIGH_BMI = 23.0, 43.0


def diabetes_chart(patient_id: str, bmi: float) -> dict[str, Any]:
    """The prefetch of a 62-year-old man whose only measurement is a recent BMI."""
    observation = {
        "resourceType": "Observation",
        "id": f"bmi-{bmi:g}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": (TODAY - timedelta(days=10)).isoformat(),
        "valueQuantity": {"value": bmi, "unit": "kg/m2", "system": UCUM, "code": "kg/m2"},
    }
    prefetch = patient_view_request(patient_id)["prefetch"]
    prefetch["patient"] = {
        "resourceType": "Patient",
        "id": patient_id,
        "gender": "male",
        "birthDate": date(TODAY.year - 62, 1, 15).isoformat(),
    }
    prefetch["observations"] = {**EMPTY, "total": 1, "entry": [{"resource": observation}]}
    return prefetch


def dysglycemia_probability(patient_id: str, bmi: float) -> float:
    """What the shipped model estimates for `diabetes_chart(patient_id, bmi)`."""
    prefetch = diabetes_chart(patient_id, bmi)
    resources = [prefetch["patient"], *(e["resource"] for e in prefetch["observations"]["entry"])]
    estimate = load_risk_models().dysglycemia.predict(
        build_patient_record(patient_id, resources, TODAY)
    )
    assert isinstance(estimate, RiskEstimate)
    return estimate.probability


def answered_call(
    server: CdssServer,
    mint: Mint,
    path: str,
    body: dict[str, Any],
    client: httpx.Client | None = None,
    timeout: float = 10,
) -> httpx.Response:
    """A hook call with a fresh token for `path`; the answer, which must be a 200 whose cards
    follow the card rules (`check_response`)."""
    post = httpx.post if client is None else client.post
    response = post(
        server.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {mint(server, path)}"},
        timeout=timeout,
    )
    assert response.status_code == 200, response.text
    check_response(response.json(), body["context"]["patientId"])
    return response


def diabetes_cards(
    server: CdssServer,
    mint: Mint,
    patient_id: str,
    bmi: float,
    client: httpx.Client | None = None,
) -> list[dict[str, Any]]:
    """The diabetes-risk cards for the chart, checked against the card rules."""
    body = patient_view_request(patient_id, prefetch=diabetes_chart(patient_id, bmi))
    response = answered_call(server, mint, DIABETES_PATH, body, client)
    return check_response(response.json(), patient_id)


def send_feedback(
    server: CdssServer, mint: Mint, entries: list[dict[str, Any]], path: str = DIABETES_PATH
) -> dict[str, Any]:
    """Post feedback entries (stamped now); the service's receipt."""
    feedback_path = path + "/feedback"
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    response = httpx.post(
        server.base_url + feedback_path,
        json={"feedback": [{**entry, "outcomeTimestamp": now} for entry in entries]},
        headers={"Authorization": f"Bearer {mint(server, feedback_path)}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    receipt: dict[str, Any] = response.json()
    return receipt
