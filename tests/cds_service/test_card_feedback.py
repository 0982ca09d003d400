"""Feedback closes the loop, through real HTTP against `cdss serve`, on both databases.

A card overridden for a patient does not come back unless the risk band rises; an accepted
order is not suggested again while it is pending; both survive a crash of the whole service.
The premise of each step (which band the shipped model puts the patient in) is computed with
the same model and adapter the service uses, so the test says what it relies on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from card_rules import check_response
from conftest import BACKENDS, Mint, patient_view_request
from support import CdssServer

from cards.policy import Band, CardPolicy
from fhir_adapters.record_builder import build_patient_record
from models.registry import load_risk_models

PATH = "/cds-services/diabetes-risk"
TODAY = datetime.now(UTC).date()
UCUM = "http://unitsofmeasure.org"
EMPTY = {"resourceType": "Bundle", "type": "searchset", "total": 0}


def _chart(patient_id: str, bmi: float) -> dict[str, Any]:
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


def _band(patient_id: str, bmi: float) -> Band:
    prefetch = _chart(patient_id, bmi)
    resources = [prefetch["patient"], *(e["resource"] for e in prefetch["observations"]["entry"])]
    record = build_patient_record(patient_id, resources, TODAY)
    estimate = load_risk_models().dysglycemia.predict(record)
    return CardPolicy().diabetes.band(getattr(estimate, "probability", 0.0))


def _cards(server: CdssServer, mint: Mint, patient_id: str, bmi: float) -> list[dict[str, Any]]:
    body = patient_view_request(patient_id, prefetch=_chart(patient_id, bmi))
    response = httpx.post(
        server.base_url + PATH,
        json=body,
        headers={"Authorization": f"Bearer {mint(server, PATH)}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return check_response(response.json(), patient_id)


def _feedback(server: CdssServer, mint: Mint, entry: dict[str, Any]) -> None:
    path = PATH + "/feedback"
    stamped = {**entry, "outcomeTimestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    response = httpx.post(
        server.base_url + path,
        json={"feedback": [stamped]},
        headers={"Authorization": f"Bearer {mint(server, path)}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1


MODERATE_BMI, HIGH_BMI = 23.0, 43.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_feedback_suppresses_cards_and_orders_across_a_crash(
    start_server: Callable[..., CdssServer], mint: Mint, backend: str
) -> None:
    patient = f"fb-{uuid.uuid4().hex[:12]}"
    assert _band(patient, MODERATE_BMI) is Band.MODERATE
    assert _band(patient, HIGH_BMI) is Band.HIGH
    server = start_server(backend)

    (card,) = _cards(server, mint, patient, MODERATE_BMI)
    assert card["indicator"] == "info"
    _feedback(
        server,
        mint,
        {
            "card": card["uuid"],
            "outcome": "overridden",
            "overrideReason": {
                "reason": {"code": "patient-declined", "display": "Patient declined"}
            },
        },
    )
    assert _cards(server, mint, patient, MODERATE_BMI) == []
    # Another patient is not affected.
    assert len(_cards(server, mint, f"{patient}-other", MODERATE_BMI)) == 1

    # The risk band rises: the card comes back.
    (raised,) = _cards(server, mint, patient, HIGH_BMI)
    assert raised["indicator"] == "warning"
    order = next(s for s in raised["suggestions"] if s["label"] == "Order an HbA1c")
    _feedback(
        server,
        mint,
        {
            "card": raised["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": order["uuid"]}],
        },
    )
    (pending,) = _cards(server, mint, patient, HIGH_BMI)
    assert "Order an HbA1c" not in [s["label"] for s in pending["suggestions"]]
    assert "HbA1c screening suggested" not in pending["summary"]

    server.crash()
    server.start()
    assert _cards(server, mint, patient, MODERATE_BMI) == []
    (after,) = _cards(server, mint, patient, HIGH_BMI)
    assert "Order an HbA1c" not in [s["label"] for s in after["suggestions"]]


def test_cards_link_to_model_cards_the_service_serves(cdss_server: CdssServer, mint: Mint) -> None:
    (card,) = _cards(cdss_server, mint, f"mc-{uuid.uuid4().hex[:12]}", HIGH_BMI)
    (link,) = card["links"]
    assert (
        link["url"]
        == card["source"]["url"]
        == f"{cdss_server.base_url}/model-cards/diabetes-dysglycemia"
    )
    page = httpx.get(link["url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/markdown")
    assert page.text.startswith("# Model card: `diabetes-dysglycemia`")
    plot = httpx.get(f"{cdss_server.base_url}/model-cards/diabetes-dysglycemia-calibration.png")
    assert plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "name", ["nope", "..%2F..%2Fpyproject.toml", "metrics.json", "diabetes-dysglycemia.json"]
)
def test_only_model_cards_are_served(cdss_server: CdssServer, name: str) -> None:
    response = httpx.get(f"{cdss_server.base_url}/model-cards/{name}")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
