"""A token is spent once: with the cards of its call in one transaction, or alone when the call
ends otherwise; a replay is refused whether it comes after the first use or races it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from conftest import Mint, patient_view_request
from hook_calls import HIGH_BMI, diabetes_chart
from sqlalchemy import Engine, event, func, select
from support import CdssServer

from cds_service.storage.database import create_database_engine
from cds_service.storage.stores import IssuedCardRecord, IssuedCardStore, ReplayStore, TokenUse
from cds_service.storage.tables import issued_card, jwt_replay

SERVICE = "diabetes-risk"
HOOK_PATH = f"/cds-services/{SERVICE}"
ISSUER = "https://ehr.example.org"
CONCURRENT_USES = 8


def _card(hook_instance: str) -> IssuedCardRecord:
    return IssuedCardRecord(
        card_uuid=str(uuid.uuid4()),
        service_id=SERVICE,
        issuer=ISSUER,
        hook_instance=hook_instance,
        patient_pseudonym="a" * 64,
        indicator="info",
        card_type="diabetes-range",
        issued_at=datetime.now(UTC),
    )


def _count(engine: Engine, query: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_the_cards_and_the_token_are_written_in_one_commit(engine: Engine) -> None:
    replay = ReplayStore(engine)
    store = IssuedCardStore(engine, replay)
    token = TokenUse(ISSUER, str(uuid.uuid4()), datetime.now(UTC) + timedelta(minutes=5))
    commits: list[object] = []
    event.listen(engine, "commit", commits.append)
    assert not replay.spent(token.issuer, token.jti)

    assert store.record([_card("first"), _card("first")], token)

    assert len(commits) == 1
    assert replay.spent(token.issuer, token.jti)
    assert _count(engine, select(func.count()).where(issued_card.c.hook_instance == "first")) == 2


def test_a_second_answer_with_a_spent_token_stores_nothing(engine: Engine) -> None:
    replay = ReplayStore(engine)
    store = IssuedCardStore(engine, replay)
    token = TokenUse(ISSUER, str(uuid.uuid4()), datetime.now(UTC) + timedelta(minutes=5))
    assert store.record([_card("first")], token)

    # The race a read cannot see: both calls passed `spent` before either committed.
    assert not store.record([_card("second")], token)
    assert not replay.spend(token)

    assert _count(engine, select(func.count()).where(issued_card.c.hook_instance == "second")) == 0
    assert _count(engine, select(func.count()).select_from(jwt_replay)) == 1


def test_a_token_whose_call_failed_cannot_be_used_again(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    token = mint(cdss_server, HOOK_PATH)
    headers = {"Authorization": f"Bearer {token}"}
    no_patient = patient_view_request()
    del no_patient["context"]["patientId"]
    failed = http.post(cdss_server.base_url + HOOK_PATH, json=no_patient, headers=headers)
    assert failed.status_code == 400

    # The same token with a body that would be answered.
    answerable = patient_view_request()
    again = http.post(cdss_server.base_url + HOOK_PATH, json=answerable, headers=headers)
    assert again.status_code == 401


def test_a_token_sent_many_times_at_once_is_answered_once(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    token = mint(cdss_server, HOOK_PATH)
    body = patient_view_request(prefetch=diabetes_chart("pat-1", HIGH_BMI))

    def send(_: int) -> httpx.Response:
        return http.post(
            cdss_server.base_url + HOOK_PATH,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    with ThreadPoolExecutor(CONCURRENT_USES) as pool:
        responses = list(pool.map(send, range(CONCURRENT_USES)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * (CONCURRENT_USES - 1)
    answered = next(response for response in responses if response.status_code == 200)
    # Only the answer that was sent left cards behind: the refused calls stored none.
    engine = create_database_engine(cdss_server.database_url)
    try:
        stored = _count(
            engine,
            select(func.count()).where(issued_card.c.hook_instance == body["hookInstance"]),
        )
    finally:
        engine.dispose()
    assert stored == len(answered.json()["cards"]) > 0
