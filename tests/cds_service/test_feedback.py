"""Feedback (`POST /cds-services/{id}/feedback`): validated, stored durably, idempotent."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import BACKENDS, TRUSTED_ISSUER, Mint
from sqlalchemy import select
from support import CdssServer

from cds_service.privacy import PatientPseudonymizer
from cds_service.storage.database import create_database_engine
from cds_service.storage.stores import IssuedCardRecord, IssuedCardStore
from cds_service.storage.tables import feedback

SERVICE = "hypertension-risk"
FEEDBACK_PATH = f"/cds-services/{SERVICE}/feedback"


def _overridden(card: str, comment: str | None = None) -> dict[str, Any]:
    reason: dict[str, Any] = {
        "reason": {
            "system": "http://example.org/cds-override",
            "code": "patient-declined",
            "display": "Patient declined",
        }
    }
    if comment is not None:
        reason["userComment"] = comment
    return {
        "card": card,
        "outcome": "overridden",
        "overrideReason": reason,
        "outcomeTimestamp": "2026-11-20T09:15:00Z",
    }


def _accepted(card: str, suggestion: str) -> dict[str, Any]:
    return {
        "card": card,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": suggestion}],
        "outcomeTimestamp": "2026-11-20T09:16:30.250+01:00",
    }


def _send(http: httpx.Client, server: CdssServer, mint: Mint, body: Any) -> httpx.Response:
    token = mint(server, FEEDBACK_PATH)
    return http.post(
        server.base_url + FEEDBACK_PATH, json=body, headers={"Authorization": f"Bearer {token}"}
    )


def _stored_rows(server: CdssServer, card: str) -> list[Any]:
    engine = create_database_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(feedback).where(feedback.c.card_uuid == card)))
    finally:
        engine.dispose()


def _issue_card(server: CdssServer) -> str:
    # Until the risk services issue cards (issue 5), a card is recorded through the store the
    # hook runner uses, as if one had been shown.
    card = str(uuid.uuid4())
    engine = create_database_engine(server.database_url)
    try:
        IssuedCardStore(engine).record(
            [
                IssuedCardRecord(
                    card_uuid=card,
                    service_id=SERVICE,
                    issuer=TRUSTED_ISSUER,
                    hook_instance=str(uuid.uuid4()),
                    patient_pseudonym=PatientPseudonymizer(b"k" * 32).pseudonym("iss", "pat-1"),
                    indicator="warning",
                    card_type=None,
                    issued_at=datetime.now(UTC),
                )
            ]
        )
    finally:
        engine.dispose()
    return card


def test_feedback_is_stored_and_a_duplicate_is_idempotent(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    card = _issue_card(cdss_server)
    body = {"feedback": [_overridden(card, comment="screened last month at another clinic")]}

    first = _send(http, cdss_server, mint, body)
    second = _send(http, cdss_server, mint, body)

    assert first.status_code == 200
    assert first.json() == {"stored": 1, "duplicates": 0, "unknownCards": 0}
    assert second.json() == {"stored": 0, "duplicates": 1, "unknownCards": 0}
    [row] = _stored_rows(cdss_server, card)
    assert row.outcome == "overridden"
    assert row.card_known is True
    assert row.override_reason["code"] == "patient-declined"
    assert row.override_comment == "screened last month at another clinic"
    assert row.outcome_timestamp.replace(tzinfo=UTC) == datetime(2026, 11, 20, 9, 15, tzinfo=UTC)


def test_feedback_for_a_card_never_issued_is_refused_and_not_stored(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    card = str(uuid.uuid4())

    response = _send(http, cdss_server, mint, {"feedback": [_accepted(card, "suggestion-1")]})

    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["feedback[0].card"]
    assert _stored_rows(cdss_server, card) == []


def test_a_batch_mixes_new_and_duplicate(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    known = _issue_card(cdss_server)
    _send(http, cdss_server, mint, {"feedback": [_overridden(known)]})

    response = _send(
        http,
        cdss_server,
        mint,
        {"feedback": [_overridden(known), _accepted(known, "s-2")]},
    )

    assert response.json() == {"stored": 1, "duplicates": 1, "unknownCards": 0}


NUL_IN_COMMENT = {"reason": {"code": "declined", "display": "Declined"}, "userComment": "a\x00b"}
INVALID_FEEDBACK: list[tuple[str, Any, str]] = [
    (
        "NUL in the card id",
        {
            "feedback": [
                {
                    "card": "c\x00",
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-11-20T09:15:00Z",
                }
            ]
        },
        "feedback[0].card",
    ),
    (
        "NUL in the comment",
        {
            "feedback": [
                {
                    "card": "c",
                    "outcome": "overridden",
                    "overrideReason": NUL_IN_COMMENT,
                    "outcomeTimestamp": "2026-11-20T09:15:00Z",
                }
            ]
        },
        "feedback[0].overrideReason.userComment",
    ),
    ("no entries", {"feedback": []}, "feedback"),
    ("feedback not a list", {"feedback": {"card": "x"}}, "feedback"),
    (
        "missing card",
        {"feedback": [{"outcome": "overridden", "outcomeTimestamp": "2026-11-20T09:15:00Z"}]},
        "feedback[0].card",
    ),
    (
        "unknown outcome",
        {
            "feedback": [
                {"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-11-20T09:15:00Z"}
            ]
        },
        "feedback[0].outcome",
    ),
    (
        "missing timestamp",
        {"feedback": [{"card": "c", "outcome": "overridden"}]},
        "feedback[0].outcomeTimestamp",
    ),
    (
        "timestamp without zone",
        {
            "feedback": [
                {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T09:15:00"}
            ]
        },
        "feedback[0].outcomeTimestamp",
    ),
    (
        "impossible date",
        {
            "feedback": [
                {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-02-30T09:15:00Z"}
            ]
        },
        "feedback[0].outcomeTimestamp",
    ),
    (
        "accepted without suggestions",
        {
            "feedback": [
                {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-20T09:15:00Z"}
            ]
        },
        "feedback[0]",
    ),
    (
        "reason without code",
        {
            "feedback": [
                {
                    "card": "c",
                    "outcome": "overridden",
                    "overrideReason": {"reason": {"display": "no"}},
                    "outcomeTimestamp": "2026-11-20T09:15:00Z",
                }
            ]
        },
        "feedback[0].overrideReason.reason",
    ),
    (
        "second entry bad",
        {
            "feedback": [
                {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T09:15:00Z"},
                {"card": 7},
            ]
        },
        "feedback[1].card",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "location"), INVALID_FEEDBACK, ids=[c[0] for c in INVALID_FEEDBACK]
)
def test_invalid_feedback_is_400_and_stores_nothing(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, case: str, body: Any, location: str
) -> None:
    response = _send(http, cdss_server, mint, body)

    assert response.status_code == 400, case
    assert location in [
        loc for issue in response.json()["issue"] for loc in issue.get("expression", [])
    ]
    assert _stored_rows(cdss_server, "c") == []


def test_feedback_for_an_unknown_service_is_404(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    path = "/cds-services/nope/feedback"
    token = mint(cdss_server, path)

    response = http.post(
        cdss_server.base_url + path,
        json={"feedback": [_overridden("c")]},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 404


@pytest.mark.parametrize("backend", BACKENDS)
def test_acknowledged_feedback_survives_a_crash(
    start_server: Callable[..., CdssServer], http: httpx.Client, mint: Mint, backend: str
) -> None:
    server = start_server(backend)
    card = _issue_card(server)
    assert _send(http, server, mint, {"feedback": [_overridden(card)]}).json()["stored"] == 1

    server.crash()
    server.start()

    assert _send(http, server, mint, {"feedback": [_overridden(card)]}).json() == {
        "stored": 0,
        "duplicates": 1,
        "unknownCards": 0,
    }
    assert len(_stored_rows(server, card)) == 1
