"""`note-summary` under `cdss serve` with two workers: a 10-note chart is summarised once, by one
worker, and the other serves that summary from the database; MiniLM is what ships, and TF-IDF
serves, named on the card, when MiniLM cannot load."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from card_rules import check_response
from conftest import Mint, patient_view_request
from hook_calls import answered_call
from sqlalchemy import func, select
from support import CdssServer
from synthetic_patients import all_patients
from test_metrics import scrape, value

from cds_service.services.note_summary import MADE, SHARED
from cds_service.settings import NoteSettings
from cds_service.storage.database import create_database_engine
from cds_service.storage.tables import note_summary
from models.sentence_vectors import MINILM, TFIDF

PATH = "/cds-services/note-summary"
SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "cdss.toml"
NOTE_COUNT = 10
# Enough views that both workers answer some (each view is a new connection, and the two
# workers take turns accepting them); the loop stops as soon as the other worker has served.
MAX_VIEWS = 60
CARD_DEADLINE_SECONDS = 120


def _ten_note_chart(patient_id: str) -> dict[str, Any]:
    """A Synthea history's ten most recent notes, as a `documents` prefetch for `patient_id`."""
    bundle = all_patients()["synthea-1"]
    documents = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]
    newest = sorted(documents, key=lambda d: d["date"], reverse=True)[:NOTE_COUNT]
    entries = [
        {"resource": {**d, "subject": {"reference": f"Patient/{patient_id}"}}} for d in newest
    ]
    return {"resourceType": "Bundle", "type": "searchset", "total": NOTE_COUNT, "entry": entries}


def _view(server: CdssServer, mint: Mint, patient_id: str) -> list[dict[str, Any]]:
    body = patient_view_request(patient_id)
    body["prefetch"]["documents"] = _ten_note_chart(patient_id)
    response = answered_call(server, mint, PATH, body, timeout=30)
    return check_response(response.json(), patient_id)


def test_two_workers_summarise_a_chart_once(
    start_server: Callable[..., CdssServer], mint: Mint
) -> None:
    # As shipped: MiniLM, and the call waits only the default budget.
    server = start_server("sqlite", notes={"answer_within_seconds": 0.4})
    assert server.workers == 2
    patient = f"nw-{uuid.uuid4().hex[:10]}"
    deadline = time.monotonic() + CARD_DEADLINE_SECONDS
    # The first view has the card when the summary fits the budget; else a next view, from
    # whichever worker takes it, does.
    cards = _view(server, mint, patient)
    while not cards and time.monotonic() < deadline:
        time.sleep(0.2)
        cards = _view(server, mint, patient)
    (card,) = cards
    assert card["summary"].startswith(f"{NOTE_COUNT} notes since ")
    assert f"excerpts chosen by {MINILM}" in card["detail"]

    # Views two at a time, so that both workers answer: the one that did not make the summary
    # serves it from the database.
    views = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        while value(scrape(server)[0], "cdss_note_summaries_total", source=SHARED) < 1:
            assert views < MAX_VIEWS, "the other worker never served the chart"
            pair = list(pool.map(lambda _: _view(server, mint, patient), range(2)))
            views += 2
            assert [[c["detail"] for c in cards] for cards in pair] == [[card["detail"]]] * 2

    samples, _ = scrape(server)
    assert value(samples, "cdss_note_summaries_total", source=MADE) == 1  # summed over workers
    engine = create_database_engine(server.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(func.count(), func.max(note_summary.c.claims)).select_from(note_summary)
            ).one()
    finally:
        engine.dispose()
    assert tuple(rows) == (1, 1)  # one chart, claimed and made once


# Without PyTorch's sentence-transformers (an import that fails, as in an install without it).
_WITHOUT_MINILM = """
import sys
sys.modules["sentence_transformers"] = None
from cds_service.services.note_summary import load_note_summarizer
from cds_service.settings import NoteSettings
print(load_note_summarizer(NoteSettings(embedder="minilm")).method)
"""


def test_minilm_ships_and_tfidf_serves_when_it_cannot_load() -> None:
    assert NoteSettings().embedder == "minilm"
    with SHIPPED_CONFIG.open("rb") as shipped:
        assert tomllib.load(shipped)["notes"]["embedder"] == "minilm"
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MINILM], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == TFIDF
    assert "MiniLM could not load (ModuleNotFoundError)" in result.stderr
