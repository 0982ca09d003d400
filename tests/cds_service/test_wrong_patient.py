"""Issue 18, item 8, through `cdss serve`: an HbA1c not linked to the patient gives no card.

The prefetch's only HbA1c (7.2%, in the diabetes range) is attached by each shape that does not
say it is this patient's; the service must set it aside and say so on the card, and the same
result attached by a literal reference to the patient must still give the diabetes-range card.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from card_rules import check_response
from conftest import Mint, patient_view_request
from support import CdssServer

SERVICE_PATH = "/cds-services/diabetes-risk"
PATIENT_ID = "pat-wrong-patient"
TODAY = datetime.now(UTC).date()
HBA1C_PERCENT = 7.2
# What the diabetes-risk service says of one HbA1c in the diabetes range, unconfirmed (the
# "possible undiagnosed diabetes" of the issue).
DIABETES_RANGE = "in the diabetes range"
SET_ASIDE = "Set aside: 1 observation not linked to this patient"
PATIENT_URN = "urn:uuid:6a0f5c1e-2b7d-4e8a-9c3f-1d2e3f4a5b6c"
BAD_SHAPES: dict[str, dict[str, Any] | None] = {
    "no subject": None,
    "identifier only": {"identifier": {"system": "urn:oid:2.16.840.1.113883.4.1", "value": "1"}},
    "urn:uuid": {"reference": PATIENT_URN},
    "a Group": {"reference": "Group/1"},
    "a contained resource": {"reference": "#p"},
    "lowercase patient": {"reference": f"patient/{PATIENT_ID}"},
    "another server's Patient": {"reference": f"https://elsewhere.example/fhir/Patient/{PATIENT_ID}"},
}  # fmt: skip


@pytest.fixture(scope="module")
def server(start_server: Callable[..., CdssServer]) -> CdssServer:
    return start_server()


def chart(subject: dict[str, Any] | None) -> dict[str, Any]:
    """The prefetch of a 62-year-old man whose only result is an HbA1c of 7.2%."""
    hba1c: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "hba1c-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "effectiveDateTime": (TODAY - timedelta(days=20)).isoformat(),
        "valueQuantity": {"value": HBA1C_PERCENT, "unit": "%",
                          "system": "http://unitsofmeasure.org", "code": "%"},
    }  # fmt: skip
    if subject is not None:
        hba1c["subject"] = subject
    prefetch = patient_view_request(PATIENT_ID)["prefetch"]
    prefetch["patient"] = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "gender": "male",
        "birthDate": date(TODAY.year - 62, 1, 15).isoformat(),
    }
    prefetch["observations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "entry": [{"resource": hba1c}],
    }
    return prefetch


def cards_for(
    server: CdssServer, http: httpx.Client, mint: Mint, prefetch: dict[str, Any]
) -> list[dict[str, Any]]:
    body = patient_view_request(PATIENT_ID, prefetch=prefetch)
    response = http.post(
        server.base_url + SERVICE_PATH,
        json=body,
        headers={"Authorization": f"Bearer {mint(server, SERVICE_PATH)}"},
    )
    assert response.status_code == 200, response.text
    return check_response(response.json(), PATIENT_ID)


@pytest.mark.parametrize("shape", BAD_SHAPES)
def test_an_hba1c_not_linked_to_the_patient_gives_no_diabetes_card(
    server: CdssServer, http: httpx.Client, mint: Mint, shape: str
) -> None:
    cards = cards_for(server, http, mint, chart(BAD_SHAPES[shape]))

    assert not [card for card in cards if DIABETES_RANGE in card["summary"]]
    assert any(SET_ASIDE in card["detail"] for card in cards), cards


def test_a_urn_uuid_naming_another_patient_in_a_transaction_bundle_is_set_aside(
    server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    prefetch = chart({"reference": PATIENT_URN})
    prefetch["observations"]["entry"].insert(
        0, {"fullUrl": PATIENT_URN, "resource": {"resourceType": "Patient", "id": "someone-else"}}
    )

    cards = cards_for(server, http, mint, prefetch)

    assert not [card for card in cards if DIABETES_RANGE in card["summary"]]


@pytest.mark.parametrize(
    "reference",
    [f"Patient/{PATIENT_ID}", f"Patient/{PATIENT_ID}/_history/4", PATIENT_URN],
    ids=["relative", "with version", "urn:uuid of this patient in the same bundle"],
)
def test_an_hba1c_linked_to_the_patient_gives_the_diabetes_card(
    server: CdssServer, http: httpx.Client, mint: Mint, reference: str
) -> None:
    prefetch = chart({"reference": reference})
    # A transaction-style Bundle names the patient under its urn:uuid fullUrl.
    prefetch["observations"]["entry"].insert(
        0, {"fullUrl": PATIENT_URN, "resource": {"resourceType": "Patient", "id": PATIENT_ID}}
    )

    cards = cards_for(server, http, mint, prefetch)

    (card,) = [card for card in cards if DIABETES_RANGE in card["summary"]]
    assert f"{HBA1C_PERCENT}%" in card["summary"]
    assert not any("Set aside" in card["detail"] for card in cards)
