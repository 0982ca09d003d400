"""Issue 18, item 8, through `cdss serve`: the note-summary card says which notes were set aside.

A note attached by an identifier alone (or naming another patient) is not this patient's: the
card quotes only the notes linked to the patient, never the other note's words, and says what
was set aside in the words of the other cards' data notes. The notice is this call's: the
summary shared through the database (keyed by the notes summarised) does not carry it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from card_rules import check_response
from conftest import Mint, patient_view_request
from hook_calls import answered_call
from support import CdssServer

PATH = "/cds-services/note-summary"
THIS_PATIENTS_NOTE = (
    "ASSESSMENT AND PLAN:\n1.Type 2 diabetes, HbA1c 7.4% on 2026-02-10, continue metformin "
    "1000 mg twice daily."
)
THIS_PATIENTS_EXCERPT = "1.Type 2 diabetes, HbA1c 7.4% on 2026-02-10"
# Words found only in the notes that are not this patient's: none may reach the response.
OTHER_NOTE = "ASSESSMENT AND PLAN:\n1.Metastatic melanoma, start pembrolizumab infusion."
OTHER_REPORT = "IMPRESSION:\nSarcoidosis with hilar lymphadenopathy."
OTHER_WORDS = ("melanoma", "pembrolizumab", "Sarcoidosis", "lymphadenopathy")
IDENTIFIER_ONLY = {"identifier": {"system": "urn:oid:2.16.840.1.113883.4.1", "value": "1"}}
NOTE_NOT_LINKED = "Set aside: 1 note not linked to this patient"
REPORT_OF_ANOTHER = "Set aside: 1 report naming another patient"


@pytest.fixture(scope="module")
def server(start_server: Callable[..., CdssServer]) -> CdssServer:
    return start_server()


def _attachment(text: str) -> list[dict[str, Any]]:
    data = base64.b64encode(text.encode()).decode()
    return [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": data}}]


def _document(note_id: str, subject: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "id": note_id,
        "status": "current",
        "subject": subject,
        "date": "2026-02-12T10:00:00Z",
        "type": {"text": "Progress note"},
        "content": _attachment(text),
    }


def _report(report_id: str, subject: dict[str, Any], text: str) -> dict[str, Any]:
    data = base64.b64encode(text.encode()).decode()
    return {
        "resourceType": "DiagnosticReport",
        "id": report_id,
        "status": "final",
        "subject": subject,
        "effectiveDateTime": "2026-02-11T10:00:00Z",
        "code": {"text": "Chest CT"},
        "presentedForm": [{"contentType": "text/plain; charset=utf-8", "data": data}],
    }


def _searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": resource} for resource in resources],
    }


def _call(
    server: CdssServer,
    mint: Mint,
    patient_id: str,
    documents: Sequence[dict[str, Any]],
    reports: Sequence[dict[str, Any]] = (),
) -> tuple[list[dict[str, Any]], str]:
    body = patient_view_request(patient_id)
    body["prefetch"]["documents"] = _searchset(*documents)
    body["prefetch"]["reports"] = _searchset(*reports)
    response = answered_call(server, mint, PATH, body, timeout=30)
    return check_response(response.json(), patient_id), response.text


def test_a_note_attached_by_an_identifier_is_set_aside_and_said_so(
    server: CdssServer, mint: Mint
) -> None:
    patient = f"wn-{uuid.uuid4().hex[:10]}"
    own = _document("note-own", {"reference": f"Patient/{patient}"}, THIS_PATIENTS_NOTE)
    other = _document("note-other", IDENTIFIER_ONLY, OTHER_NOTE)

    cards, text = _call(server, mint, patient, [own, other])

    (card,) = cards
    assert card["summary"] == "1 note since 2026-02-12: type 2 diabetes"
    assert THIS_PATIENTS_EXCERPT in card["detail"]
    assert NOTE_NOT_LINKED in card["detail"]
    assert not [word for word in OTHER_WORDS if word in text]
    assert "note-other" not in text


def test_the_notice_is_this_calls_not_the_shared_summarys(server: CdssServer, mint: Mint) -> None:
    """The same notes summarised for a call with nothing set aside: the summary is the one
    made (and stored) for the call that set a note aside, and it says nothing of it."""
    patient = f"ws-{uuid.uuid4().hex[:10]}"
    own = _document("note-own", {"reference": f"Patient/{patient}"}, THIS_PATIENTS_NOTE)
    other = _document("note-other", IDENTIFIER_ONLY, OTHER_NOTE)

    (with_other,), _ = _call(server, mint, patient, [own, other])
    (alone,), _ = _call(server, mint, patient, [own])

    assert NOTE_NOT_LINKED in with_other["detail"]
    assert "Set aside" not in alone["detail"]
    assert alone["summary"] == with_other["summary"]


def test_when_every_note_is_set_aside_the_card_says_what_was(
    server: CdssServer, mint: Mint
) -> None:
    patient = f"wa-{uuid.uuid4().hex[:10]}"
    other = _document("note-other", IDENTIFIER_ONLY, OTHER_NOTE)
    report = _report("report-other", {"reference": "Patient/someone-else"}, OTHER_REPORT)

    cards, text = _call(server, mint, patient, [other], [report])

    (card,) = cards
    assert "Set aside" in card["summary"]
    assert NOTE_NOT_LINKED in card["detail"]
    assert REPORT_OF_ANOTHER in card["detail"]
    assert not [word for word in OTHER_WORDS if word in text]
    assert "note-other" not in text
    assert "someone-else" not in text
