"""The service's log: no line per sentence from a library, whatever a note holds."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date

import pytest
from synthetic_patients import synthea_patients

from cds_service.app import quieten_root_logger
from cds_service.services.note_summary import load_note_summarizer
from cds_service.settings import NoteSettings
from fhir_adapters.patient_record import ClinicalNote
from fhir_adapters.record_builder import build_patient_record

# The note was 86 KB; this one is at least as large (and longer than the reader reads).
LARGE_NOTE_CHARACTERS = 86_000


class _Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_records() -> Iterator[list[logging.LogRecord]]:
    """Every record that reaches the root logger's handlers, at DEBUG."""
    root = logging.getLogger()
    handler, level, filters = _Counting(), root.level, list(root.filters)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.records
    root.removeHandler(handler)
    root.setLevel(level)
    root.filters = filters


def _large_note() -> ClinicalNote:
    """The Synthea patients' notes, one after another, until the note is large enough."""
    texts = []
    for bundle in synthea_patients().values():
        resources = [{"id": f"r{n}", **e["resource"]} for n, e in enumerate(bundle["entry"])]
        patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        texts += [
            n.text for n in build_patient_record(patient, resources, date(2026, 11, 23)).notes
        ]
    text = "\n\n".join(texts)
    while len(text) < LARGE_NOTE_CHARACTERS:
        text += "\n\n" + text
    text = text[:LARGE_NOTE_CHARACTERS]
    return ClinicalNote(
        source="DocumentReference/large",
        element="content[0].attachment",
        date=None,
        title="Discharge summary",
        content_type="text/plain",
        text=text,
    )


def test_summarising_a_large_note_writes_no_log_line(
    root_records: list[logging.LogRecord], capfd: pytest.CaptureFixture[str]
) -> None:
    summarizer = load_note_summarizer(NoteSettings(embedder="tfidf"))
    capfd.readouterr()
    note = _large_note()

    summary = summarizer.summarize([note])

    assert summary.excerpts
    assert [f"{r.name}: {r.levelname}" for r in root_records] == []
    # Libraries that log through their own sinks (loguru) write to the process's stderr.
    assert capfd.readouterr().err == ""


def test_library_lines_on_the_root_logger_stay_out_below_warning(
    root_records: list[logging.LogRecord],
) -> None:
    quieten_root_logger()
    quieten_root_logger()  # once is enough; a second call adds nothing

    logging.info("as PyFastNER logs: per sentence")
    logging.warning("a library's warning")
    logging.getLogger("cds_service.example").info("the service's own line")

    assert [r.getMessage() for r in root_records] == [
        "a library's warning",
        "the service's own line",
    ]
