"""The note summary's worker: a summary that is ready at once must not stall the call."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from card_policies import DEFAULT_POLICY
from model_records import record

from cds_service.services.definition import ServiceInput
from cds_service.services.note_summary import NoteSummaries
from cds_service.settings import NoteSettings
from fhir_adapters.patient_record import ClinicalNote
from models.note_analysis import ClinicalReader
from models.note_summary import NoteSummarizer
from models.sentence_vectors import TfidfVectors

CALLS = 200


def test_quick_summaries_never_deadlock_the_caller() -> None:
    # Each chart is new and tiny, so its summary is often done before the call registers
    # for it: the case in which a callback that takes the caller's lock would deadlock.
    advice = NoteSummaries(
        NoteSummarizer(ClinicalReader.load(), TfidfVectors()),
        NoteSettings(embedder="tfidf", answer_within_seconds=5),
    )
    answered: list[int] = []

    def calls() -> None:
        for n in range(CALLS):
            note = ClinicalNote(
                f"DocumentReference/{n}",
                "",
                datetime(2026, 1, 2),
                "Note",
                "text/plain",
                f"Visit {n}.",
            )
            chart = replace(record(), notes=(note,))
            advice(ServiceInput("note-summary", "patient-view", f"h{n}", {}, chart, DEFAULT_POLICY))
            answered.append(n)

    caller = threading.Thread(target=calls, daemon=True)
    caller.start()
    caller.join(timeout=120)
    assert not caller.is_alive(), f"stalled after {len(answered)} calls"
    assert len(answered) == CALLS
