"""Note summaries shared through the database: stored once by content, claimed while being
made, a lapsed claim taken over; on SQLite and on PostgreSQL. And the JSON they are kept as."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

import models
from cds_service.services.note_summary import (
    MADE,
    SHARED,
    NoteSummaries,
    content_sha256,
    reading_version,
    sources_hash,
)
from cds_service.settings import NoteSettings
from cds_service.storage.dataclass_json import DocumentMismatch, from_json, shape_of, to_json
from cds_service.storage.note_summaries import NoteSummaryStore
from cds_service.storage.tables import note_summary
from fhir_adapters.patient_record import ClinicalNote
from models.note_analysis import ClinicalReader
from models.note_summary import Excerpt, NoteSummarizer, NoteSummary, ProblemMentions
from models.sentence_vectors import TfidfVectors

READING = "1 TF-IDF"
WORKER_A = "host-a:101"
WORKER_B = "host-b:202"
SUMMARY = NoteSummary(
    note_count=2,
    since=date(2026, 2, 10),
    excerpts=(
        Excerpt(
            text="Type 2 diabetes, HbA1c 7.4%, continue metformin.",
            source="DocumentReference/note-1",
            element="content[0]",
            note_date=date(2026, 2, 12),
            note_title="Progress note",
            section="assessment_and_plan",
            start=21,
            end=70,
        ),
        Excerpt("No chest pain today.", "DiagnosticReport/r-2", "", None, "Report", "other", 0, 20),
    ),
    problems=ProblemMentions(
        present=("type 2 diabetes",),
        denied=("fever", "chest pain"),
        possible=(),
        historical=("appendectomy",),
        family=("hypertension",),
    ),
    method="TF-IDF",
)
NOTES = [
    ClinicalNote(
        "DocumentReference/note-1",
        "content[0]",
        datetime(2026, 2, 12, 10),
        "Progress note",
        "text/plain",
        "ASSESSMENT AND PLAN:\n1.No fever.\n2.Type 2 diabetes, continue metformin 1000 mg.",
    )
]


def test_a_summary_survives_its_json_unchanged() -> None:
    assert from_json(NoteSummary, to_json(SUMMARY)) == SUMMARY


@dataclass(frozen=True)
class _Later:
    """A summary class as a later version might declare it."""

    note_count: int
    since: date | None
    added: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)


def test_documents_from_another_version_are_read_or_refused_whole() -> None:
    # A field added with a default reads from an older document; one it lacks is ignored.
    assert from_json(_Later, to_json(SUMMARY)) == _Later(2, date(2026, 2, 10))
    later = _Later(3, None, ("a",), {"x": 1.5})
    assert from_json(_Later, to_json(later)) == later
    # A document that lacks a field the class requires, or holds the wrong shape, is refused.
    with pytest.raises(DocumentMismatch):
        from_json(NoteSummary, to_json(later))
    with pytest.raises(DocumentMismatch):
        from_json(_Later, '{"note_count": "3", "since": null}')
    with pytest.raises(DocumentMismatch):
        from_json(_Later, "not json")


def test_a_summary_of_another_shape_has_another_key() -> None:
    @dataclass(frozen=True)
    class Earlier:
        note_count: int
        since: date | None

    assert shape_of(_Later) == shape_of(_Later)
    assert shape_of(Earlier) != shape_of(_Later)
    # Nested classes count: the summary's shape covers its excerpts'.
    assert shape_of(NoteSummary) != shape_of(Excerpt)


def test_the_first_claim_wins_and_the_summary_is_shared(engine: Engine) -> None:
    store = NoteSummaryStore(engine)
    key = content_sha256(NOTES)
    assert not store.lookup(key, READING, WORKER_A).being_made_elsewhere
    assert store.claim(key, READING, WORKER_A)
    assert not store.claim(key, READING, WORKER_B)
    assert store.claim(key, READING, WORKER_A)  # its own claim, renewed: not a second making
    assert store.claims_of(key, READING) == 1
    assert store.lookup(key, READING, WORKER_B).being_made_elsewhere
    assert not store.lookup(key, READING, WORKER_A).being_made_elsewhere  # its own claim

    store.finish(key, READING, WORKER_A, SUMMARY)

    found = store.lookup(key, READING, WORKER_B)
    assert found.summary == SUMMARY
    assert not found.being_made_elsewhere
    assert not store.claim(key, READING, WORKER_B)  # made: never made again
    assert store.claims_of(key, READING) == 1
    # Another embedder, or other reading rules, is another summary.
    assert store.lookup(key, "2 TF-IDF", WORKER_B).summary is None
    assert store.claim(key, "2 TF-IDF", WORKER_B)


def test_a_lapsed_claim_is_taken_over_and_a_released_one_at_once(engine: Engine) -> None:
    lapsing = NoteSummaryStore(engine, lease=timedelta(seconds=-1))
    store = NoteSummaryStore(engine)
    key = content_sha256(NOTES)
    assert lapsing.claim(key, READING, WORKER_A)  # the worker dies holding it
    assert not store.lookup(key, READING, WORKER_B).being_made_elsewhere
    assert store.claim(key, READING, WORKER_B)
    assert store.claims_of(key, READING) == 2
    assert not store.claim(key, READING, WORKER_A)  # B's claim is live

    store.release(key, READING, WORKER_B)  # B's summary failed
    assert store.claims_of(key, READING) == 0
    assert store.claim(key, READING, WORKER_A)


def test_a_document_that_no_longer_fits_is_made_again(engine: Engine) -> None:
    store = NoteSummaryStore(engine)
    key = content_sha256(NOTES)
    store.finish(key, READING, WORKER_A, SUMMARY)
    with engine.begin() as connection:
        connection.execute(update(note_summary).values(summary='{"note_count": 2}'))
    assert store.lookup(key, READING, WORKER_B).summary is None
    assert store.claim(key, READING, WORKER_B)


def test_a_second_process_serves_the_stored_summary_without_making_it(engine: Engine) -> None:
    summarizer = NoteSummarizer(ClinicalReader.load(), TfidfVectors())
    settings = NoteSettings(embedder="tfidf", answer_within_seconds=30)
    counts: dict[str, list[str]] = {"first": [], "second": []}
    first = NoteSummaries(summarizer, settings, NoteSummaryStore(engine), counts["first"].append)
    second = NoteSummaries(summarizer, settings, NoteSummaryStore(engine), counts["second"].append)
    try:
        made = first.summary_of(NOTES, 30)
        shared = second.summary_of(NOTES, 30)
    finally:
        first.close()
        second.close()
    assert made is not None
    assert shared == made
    assert counts == {"first": [MADE], "second": [SHARED]}
    reading = f"{reading_version()} {shape_of(NoteSummary)} {made.method}"
    assert NoteSummaryStore(engine).claims_of(content_sha256(NOTES), reading) == 1


def test_a_change_to_a_reading_rule_gives_summaries_a_new_key(tmp_path: Path) -> None:
    models_folder = Path(models.__file__).parent
    for path in models_folder.glob("*.py"):
        shutil.copy(path, tmp_path / path.name)
    before = sources_hash(tmp_path)
    assert before == reading_version()

    (tmp_path / "criteria.py").write_text("# not a reading rule\n", encoding="utf-8")
    assert sources_hash(tmp_path) == before
    rules = tmp_path / "note_analysis.py"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert sources_hash(tmp_path) != before
