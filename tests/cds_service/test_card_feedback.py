"""Feedback closes the loop, through real HTTP against `cdss serve`, on both databases.

A card overridden for a patient does not come back unless the risk band rises; an accepted
order is not suggested again while it is pending; both survive a crash of the whole service.
The premise of each step (which band the shipped model puts the patient in) is computed with
the same model and adapter the service uses, so the test says what it relies on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from card_policies import DEFAULT_POLICY
from conftest import BACKENDS, Mint
from hook_calls import (
    HIGH_BMI,
    MODERATE_BMI,
    diabetes_cards,
    dysglycemia_probability,
    send_feedback,
)
from support import CdssServer

from cards.policy import Band


def _band(patient_id: str, bmi: float) -> Band:
    return DEFAULT_POLICY.diabetes.band(dysglycemia_probability(patient_id, bmi))


def _cards(server: CdssServer, mint: Mint, patient_id: str, bmi: float) -> list[dict[str, Any]]:
    return diabetes_cards(server, mint, patient_id, bmi)


def _feedback(server: CdssServer, mint: Mint, entry: dict[str, Any]) -> None:
    assert send_feedback(server, mint, [entry])["stored"] == 1


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
    # One charset parameter: Werkzeug adds it to a text/* type, so the route must not as well.
    assert page.headers["content-type"] == "text/markdown; charset=utf-8"
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
