"""A note is dated by the care it documents: the service's period, the report's effective time."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_adapters.notes import read_notes

ATTACHMENT = {"contentType": "text/plain", "data": base64.b64encode(b"No fever.").decode()}
# Synthea's bulk load stamps every DocumentReference of a chart with the day it was made.
LOADED = "2026-01-02T09:00:00Z"
VISIT = {"start": "2019-05-14T10:00:00Z", "end": "2019-05-14T10:30:00Z"}


def note_date(resource: dict[str, Any]) -> datetime | None:
    notes, issues = read_notes(resource, {}, {})
    assert issues == []
    assert len(notes) == 1
    return notes[0].date


def document(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference", "id": "d", "status": "current",
        "content": [{"attachment": ATTACHMENT}], **fields,
    }  # fmt: skip


def report(**fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport", "id": "r", "status": "final",
        "code": {"text": "Chest X-ray"}, "conclusion": "No acute abnormality.", **fields,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            document(
                date=LOADED,
                context={
                    "period": {"start": "2019-05-14T10:00:00Z", "end": "2019-05-14T10:30:00Z"}
                },
            ),
            datetime(2019, 5, 14, 10, 0, tzinfo=UTC),
        ),
        (
            document(date=LOADED, context={"period": {"end": "2019-05-14T10:30:00Z"}}),
            datetime(2019, 5, 14, 10, 30, tzinfo=UTC),
        ),
        (document(date=LOADED, context={"period": {}}), datetime(2026, 1, 2, 9, 0, tzinfo=UTC)),
        (document(date=LOADED, context={}), datetime(2026, 1, 2, 9, 0, tzinfo=UTC)),
        (document(date=LOADED), datetime(2026, 1, 2, 9, 0, tzinfo=UTC)),
        (document(), None),
    ],
    ids=["period start", "period end", "empty period", "no period", "no context", "undated"],
)
def test_a_document_is_dated_by_the_service_it_documents(
    resource: dict[str, Any], expected: datetime | None
) -> None:
    assert note_date(resource) == expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            report(effectiveDateTime="2024-03-01T08:00:00Z", issued="2024-03-02T12:00:00Z"),
            datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        ),
        (
            report(
                effectivePeriod={"start": "2024-03-01T08:00:00Z"}, issued="2024-03-02T12:00:00Z"
            ),
            datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        ),
        (report(issued="2024-03-02T12:00:00Z"), datetime(2024, 3, 2, 12, 0, tzinfo=UTC)),
        (report(), None),
    ],
    ids=["effective time", "effective period", "issued", "undated"],
)
def test_a_report_is_dated_by_its_clinically_relevant_time(
    resource: dict[str, Any], expected: datetime | None
) -> None:
    assert note_date(resource) == expected


@pytest.mark.parametrize("status", [[], {}, ["current"]])
def test_a_status_that_is_not_a_code_is_read_not_raised(status: Any) -> None:
    # A list or an object cannot be looked up among the withdrawn statuses (a TypeError, a 500
    # before): the note is read, as one whose status says nothing.
    notes, _ = read_notes(document(status=status), {}, {})

    assert [note.text for note in notes] == ["No fever."]
