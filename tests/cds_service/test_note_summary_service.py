"""`note-summary` through real HTTP: a card quoting the notes, never a wait past the budget, and
an override honoured through the real feedback store."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from typing import Any

from card_rules import check_response
from conftest import Mint, patient_view_request
from hook_calls import answered_call, send_feedback
from support import CdssServer

PATH = "/cds-services/note-summary"
NOTE = (
    "ASSESSMENT AND PLAN:\n1.No fever.\n2.Type 2 diabetes, HbA1c 7.4% on 2026-02-10, "
    "continue metformin 1000 mg twice daily.\nMother has hypertension."
)


def _call(server: CdssServer, mint: Mint, patient_id: str) -> list[dict[str, Any]]:
    document = {
        "resourceType": "DocumentReference",
        "id": "note-1",
        "status": "current",
        "subject": {"reference": f"Patient/{patient_id}"},
        "date": "2026-02-12T10:00:00Z",
        "type": {"text": "Progress note"},
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(NOTE.encode()).decode(),
                }
            }
        ],
    }
    body = patient_view_request(patient_id)
    body["prefetch"]["documents"] = {
        "resourceType": "Bundle", "type": "searchset", "total": 1, "entry": [{"resource": document}]
    }  # fmt: skip
    response = answered_call(server, mint, PATH, body, timeout=30)
    return check_response(response.json(), patient_id)


def test_the_card_quotes_the_note(cdss_server: CdssServer, mint: Mint) -> None:
    (card,) = _call(cdss_server, mint, f"ns-{uuid.uuid4().hex[:10]}")
    assert card["summary"] == "1 note since 2026-02-12: type 2 diabetes"
    assert "> 2.Type 2 diabetes, HbA1c 7.4% on 2026-02-10" in card["detail"]
    assert "- Denied or ruled out: fever" in card["detail"]
    assert "- In the family: hypertension" in card["detail"]
    assert "`DocumentReference/note-1`" in card["detail"]


def test_a_summary_not_ready_in_time_is_left_for_the_next_view(
    start_server: Callable[..., CdssServer], mint: Mint
) -> None:
    server = start_server("sqlite", notes={"answer_within_seconds": 0})
    patient = f"nb-{uuid.uuid4().hex[:10]}"
    assert _call(server, mint, patient) == []  # answered at once, without the summary
    deadline = time.monotonic() + 60
    cards: list[dict[str, Any]] = []
    while not cards and time.monotonic() < deadline:
        time.sleep(0.5)
        cards = _call(server, mint, patient)
    assert [card["summary"] for card in cards] == ["1 note since 2026-02-12: type 2 diabetes"]


def test_an_overridden_summary_stays_away_for_that_patient(
    cdss_server: CdssServer, mint: Mint
) -> None:
    """The README's promise for every card: one a clinician overrode stays away (90 days)."""
    patient = f"no-{uuid.uuid4().hex[:10]}"
    (card,) = _call(cdss_server, mint, patient)
    override = {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"code": "not-appropriate", "display": "Not clinically appropriate"},
        },
    }
    assert send_feedback(cdss_server, mint, [override], PATH)["stored"] == 1
    assert _call(cdss_server, mint, patient) == []
    # Another patient's summary is not affected.
    assert len(_call(cdss_server, mint, f"{patient}-other")) == 1
