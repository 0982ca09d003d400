"""The two reads of every hook call: never stale, and driven by the patient's own cards."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert

from cards.policy import Band
from cds_service.managed_config import LiveConfig, file_config
from cds_service.settings import Settings
from cds_service.storage.admin_records import ConfigVersionStore
from cds_service.storage.database import create_database_engine, migrate
from cds_service.storage.stores import (
    FeedbackRecord,
    FeedbackStore,
    IssuedCardRecord,
    IssuedCardStore,
)
from cds_service.storage.tables import feedback

SERVICE = "diabetes-risk"
OTHER_SERVICE = "hypertension-risk"
ISSUER = "https://ehr.example.org"
PSEUDONYM = "a" * 64
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)

# Another process: appends one configuration version, as an admin call to another worker does.
APPEND_A_VERSION = textwrap.dedent(
    """
    import sys
    from cds_service.managed_config import file_config
    from cds_service.settings import Settings
    from cds_service.storage.admin_records import ConfigVersionStore
    from cds_service.storage.database import create_database_engine

    url, based_on, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    document = file_config(Settings(), ["diabetes-risk"]).to_json()
    document["cards"]["suppress_overridden_days"] = days
    store = ConfigVersionStore(create_database_engine(url))
    store.append(document, [], actor="other-worker", source=None, based_on=based_on)
    """
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'cdss.db'}"
    engine = create_database_engine(url)
    migrate(engine)
    yield url, engine
    engine.dispose()


def test_a_change_made_by_another_process_is_in_force_on_the_next_read(
    database: tuple[str, Engine],
) -> None:
    url, engine = database
    live = LiveConfig(
        ConfigVersionStore(engine), file_config(Settings(), [SERVICE]), "http://cdss", True
    )
    assert live.current().version == 0  # the file's values, now held by this worker
    for based_on, days in [(0, 11), (1, 12)]:
        subprocess.run(
            [sys.executable, "-c", APPEND_A_VERSION, url, str(based_on), str(days)], check=True
        )
        in_force = live.current()
        assert in_force.version == based_on + 1
        assert in_force.policy.suppress_overridden_days == days


def _issue_card(engine: Engine, card_uuid: str) -> None:
    IssuedCardStore(engine).record(
        [
            IssuedCardRecord(
                card_uuid=card_uuid,
                service_id=SERVICE,
                issuer=ISSUER,
                hook_instance="hook-1",
                patient_pseudonym=PSEUDONYM,
                indicator="warning",
                card_type="diabetes-risk",
                issued_at=NOW - timedelta(days=2),
                band=Band.MODERATE.value,
            )
        ]
    )


def _override(card_uuid: str) -> FeedbackRecord:
    return FeedbackRecord(card_uuid, "overridden", NOW - timedelta(days=1), (), None, None)


def test_feedback_stored_through_another_connection_is_read_on_the_next_call(
    database: tuple[str, Engine],
) -> None:
    url, engine = database
    cards = IssuedCardStore(engine)
    _issue_card(engine, "card-1")
    assert cards.feedback_history(SERVICE, PSEUDONYM, NOW, 90, 90).overridden == {}
    other_worker = create_database_engine(url)
    receipt = FeedbackStore(other_worker).store(SERVICE, ISSUER, [_override("card-1")])
    other_worker.dispose()
    assert receipt.stored == 1
    history = cards.feedback_history(SERVICE, PSEUDONYM, NOW, 90, 90)
    assert history.overridden == {"diabetes-risk": Band.MODERATE}


def test_feedback_filed_under_another_service_is_not_this_services_history(
    database: tuple[str, Engine],
) -> None:
    _url, engine = database
    _issue_card(engine, "card-1")
    with engine.begin() as connection:
        connection.execute(
            insert(feedback).values(
                entry_digest="0" * 64,
                service_id=OTHER_SERVICE,
                card_uuid="card-1",
                card_known=False,
                issuer=None,
                outcome="overridden",
                outcome_timestamp=NOW - timedelta(days=1),
                received_at=NOW,
            )
        )
    history = IssuedCardStore(engine).feedback_history(SERVICE, PSEUDONYM, NOW, 90, 90)
    assert history.overridden == {}


def test_the_feedback_history_is_read_through_the_patients_cards(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    # Not through every feedback entry of the service in the period, whose number grows with
    # all patients' feedback (bench/call_reads.py: ~200 ms a call at 20,000 entries).
    _url, engine = database
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM issued_card JOIN feedback" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    IssuedCardStore(engine).feedback_history(SERVICE, PSEUDONYM, NOW, 90, 365)
    event.remove(engine, "before_cursor_execute", keep)
    [(statement, parameters)] = statements
    with sqlite3.connect(tmp_path / "cdss.db") as connection:
        plan = " / ".join(
            str(step[3])
            for step in connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    assert plan.startswith("SEARCH issued_card USING INDEX ix_issued_card_patient"), plan
    assert "ix_feedback_card" in plan, plan
