"""Feedback cannot fill the database or move another EHR's numbers (issue 18, item 6).

Through `cdss serve` on both databases: feedback is accepted only for cards the service issued
to the calling EHR (the JWT `iss`), its sizes are bounded, and the administrators' summary
counts each EHR apart.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import ALLOWED_TENANT, BACKENDS, TENANT_ISSUER, TRUSTED_ISSUER, Mint
from hook_calls import HIGH_BMI, diabetes_cards
from sqlalchemy import func, select
from support import CdssServer
from test_admin_api import admin_config, bearer

from cds_service.storage.database import create_database_engine
from cds_service.storage.tables import feedback

FEEDBACK_PATH = "/cds-services/diabetes-risk/feedback"
DECLINED = {"system": "http://example.org/cds-override", "code": "declined", "display": "Declined"}


def _overridden(card: str, reason: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "card": card,
        "outcome": "overridden",
        "overrideReason": {"reason": reason or DECLINED},
        "outcomeTimestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def _send(
    http: httpx.Client, server: CdssServer, mint: Mint, entries: list[dict[str, Any]], **token: Any
) -> httpx.Response:
    return http.post(
        server.base_url + FEEDBACK_PATH,
        json={"feedback": entries},
        headers={"Authorization": f"Bearer {mint(server, FEEDBACK_PATH, **token)}"},
    )


def _feedback_rows(server: CdssServer) -> int:
    engine = create_database_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(feedback)) or 0)
    finally:
        engine.dispose()


def _locations(response: httpx.Response) -> list[str]:
    return [loc for issue in response.json()["issue"] for loc in issue.get("expression", [])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_feedback_only_for_cards_issued_to_the_caller(
    start_server: Callable[..., CdssServer], http: httpx.Client, mint: Mint, backend: str
) -> None:
    server = start_server(backend)
    (card,) = diabetes_cards(server, mint, f"fbb-{uuid.uuid4().hex[:12]}", HIGH_BMI)
    other_ehr = {"issuer": TENANT_ISSUER, "tenant": ALLOWED_TENANT}

    never_issued = _send(
        http, server, mint, [_overridden(card["uuid"]), _overridden(str(uuid.uuid4()))]
    )
    issued_to_another = _send(http, server, mint, [_overridden(card["uuid"])], **other_ehr)

    for refused in (never_issued, issued_to_another):
        assert refused.status_code == 400, refused.text
    assert "feedback[1].card" in _locations(never_issued)
    assert "feedback[0].card" in _locations(issued_to_another)
    # The card id is the caller's own input, but nothing else of the request is echoed.
    assert card["uuid"] not in issued_to_another.text
    assert _feedback_rows(server) == 0

    accepted = _send(http, server, mint, [_overridden(card["uuid"])])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["stored"] == 1


OVERSIZED: list[tuple[str, dict[str, Any], str]] = [
    (
        "reason display",
        {"code": "declined", "display": "x" * 5000},
        "feedback[0].overrideReason.reason",
    ),
    (
        "reason extension",
        {"code": "declined", "extension": {"padding": ["y" * 100] * 50}},
        "feedback[0].overrideReason.reason",
    ),
]


@pytest.mark.parametrize(
    ("case", "reason", "location"), OVERSIZED, ids=[case[0] for case in OVERSIZED]
)
def test_an_oversized_override_reason_is_400_naming_it(
    cdss_server: CdssServer,
    http: httpx.Client,
    mint: Mint,
    case: str,
    reason: dict[str, Any],
    location: str,
) -> None:
    (card,) = diabetes_cards(cdss_server, mint, f"fbb-{uuid.uuid4().hex[:12]}", HIGH_BMI)

    response = _send(http, cdss_server, mint, [_overridden(card["uuid"], reason)])

    assert response.status_code == 400, case
    assert location in _locations(response)
    assert "x" * 100 not in response.text


def test_a_feedback_body_over_its_limit_is_413(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    # Well under the service-wide request limit (32 MB), far over any honest batch.
    entries = [_overridden(str(uuid.uuid4()), {"code": "c" * 4000}) for _ in range(600)]

    response = _send(http, cdss_server, mint, entries)

    assert response.status_code == 413


def test_the_summary_counts_each_ehr_apart(
    start_server: Callable[..., CdssServer], http: httpx.Client, mint: Mint
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_server("sqlite", admin=admin_config(token))
    other_ehr = {"issuer": TENANT_ISSUER, "tenant": ALLOWED_TENANT}
    mint_for_other: Mint = lambda s, path, **options: mint(s, path, **{**other_ehr, **options})  # noqa: E731
    (ours,) = diabetes_cards(server, mint, f"fbb-{uuid.uuid4().hex[:12]}", HIGH_BMI)
    (theirs,) = diabetes_cards(server, mint_for_other, f"fbb-{uuid.uuid4().hex[:12]}", HIGH_BMI)
    assert _send(http, server, mint, [_overridden(ours["uuid"])], **other_ehr).status_code == 400
    assert _send(http, server, mint, [_overridden(theirs["uuid"])], **other_ehr).status_code == 200

    summary = http.get(server.base_url + "/admin/feedback/summary", headers=bearer(token)).json()

    by_issuer = {row["issuer"]: row for row in summary["byIssuer"]}
    assert set(by_issuer) == {TRUSTED_ISSUER, TENANT_ISSUER}
    assert (by_issuer[TRUSTED_ISSUER]["issued"], by_issuer[TRUSTED_ISSUER]["overridden"]) == (1, 0)
    assert (by_issuer[TENANT_ISSUER]["issued"], by_issuer[TENANT_ISSUER]["overridden"]) == (1, 1)
