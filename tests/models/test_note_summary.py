"""The note summary: verbatim excerpts with provenance, problems by assertion, no repeats."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from synthetic_patients import synthea_patients

from fhir_adapters.patient_record import ClinicalNote
from fhir_adapters.record_builder import build_patient_record
from models.note_analysis import ClinicalReader, NoteAnalysis
from models.note_boilerplate import boilerplate_kind
from models.note_summary import MAX_EXCERPTS, NoteSummarizer, ProblemSource
from models.sentence_vectors import MINILM, TFIDF, MiniLmVectors, SentenceVectors, TfidfVectors


@pytest.fixture(scope="module")
def reader() -> ClinicalReader:
    return ClinicalReader.load()


@pytest.fixture(scope="module", params=[TFIDF, MINILM])
def vectors(request: pytest.FixtureRequest) -> SentenceVectors:
    return TfidfVectors() if request.param == TFIDF else MiniLmVectors.load()


@pytest.fixture(scope="module")
def synthea_notes() -> dict[str, tuple[ClinicalNote, ...]]:
    charts: dict[str, tuple[ClinicalNote, ...]] = {}
    for name, bundle in synthea_patients().items():
        resources: list[dict[str, Any]] = [
            {"id": f"r{n}", **entry["resource"]} for n, entry in enumerate(bundle["entry"])
        ]
        patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        record = build_patient_record(patient, resources, date(2026, 11, 23))
        charts[name] = tuple(sorted(record.notes, key=lambda n: n.date or datetime.min)[-20:])
    return charts


class CountingReader:
    """The real reader, counting the notes it reads."""

    def __init__(self, reader: ClinicalReader) -> None:
        self._reader = reader
        self.reads = 0

    def read(self, item: ClinicalNote) -> NoteAnalysis:
        self.reads += 1
        return self._reader.read(item)


def note(source: str, when: datetime, text: str) -> ClinicalNote:
    return ClinicalNote(source, "content[0].attachment", when, "Progress note", "text/plain", text)


def test_every_excerpt_is_a_verbatim_span_of_its_note(
    reader: ClinicalReader,
    vectors: SentenceVectors,
    synthea_notes: dict[str, tuple[ClinicalNote, ...]],
) -> None:
    summarizer = NoteSummarizer(reader, vectors)
    for name, notes in synthea_notes.items():
        summary = summarizer.summarize(notes)
        assert summary.method == vectors.method
        assert 0 < len(summary.excerpts) <= MAX_EXCERPTS, name
        by_source = {(n.source, n.element): n for n in notes}
        for excerpt in summary.excerpts:
            source = by_source[(excerpt.source, excerpt.element)]
            assert source.text[excerpt.start : excerpt.end] == excerpt.text
            assert excerpt.note_date == (source.date.date() if source.date else None)
            assert excerpt.note_title == source.title


def test_denied_family_possible_and_past_findings_are_not_present_problems(
    reader: ClinicalReader, vectors: SentenceVectors
) -> None:
    notes = [
        note(
            "DocumentReference/a",
            datetime(2026, 3, 1),
            "HPI: Denies chest pain. Mother has type 2 diabetes. Rule out pneumonia.\n"
            "History of stroke in 2019.\nASSESSMENT AND PLAN:\n1.No fever.\n"
            "2.Hypertension, stable on lisinopril.\nReturn if shortness of breath.",
        )
    ]
    problems = NoteSummarizer(reader, vectors).summarize(notes).problems
    assert problems.present == ("hypertension",)
    assert set(problems.denied) == {"chest pain", "fever"}
    assert problems.family == ("type 2 diabetes",)
    assert set(problems.possible) == {"pneumonia", "shortness of breath"}
    assert problems.historical == ("stroke",)


def test_each_finding_is_listed_once_as_its_newest_most_certain_statement_says(
    reader: ClinicalReader, vectors: SentenceVectors
) -> None:
    notes = [
        note(
            "DocumentReference/old",
            datetime(2025, 9, 1),
            "HPI: Chest pain on exertion for two weeks. History of type 2 diabetes.\n"
            "ASSESSMENT: Hypertension, possible. Asthma, well controlled.",
        ),
        note(
            "DocumentReference/new",
            datetime(2026, 4, 14),
            "HPI: Denies chest pain. Possible hypertension on home readings. Mother has type 2 "
            "diabetes.\nASSESSMENT AND PLAN:\n1. Hypertension, start amlodipine 5 mg daily.",
        ),
    ]
    problems = NoteSummarizer(reader, vectors).summarize(notes).problems
    listed = [
        *problems.present,
        *problems.denied,
        *problems.possible,
        *problems.historical,
        *problems.family,
    ]
    assert len(listed) == len(set(listed))  # one bucket per concept
    # In the newest note the assessment's plain statement beats the history's doubt.
    assert "hypertension" in problems.present
    assert problems.source_of("hypertension") == ProblemSource(
        "hypertension", "present", "Progress note", date(2026, 4, 14), "DocumentReference/new",
        "assessment_and_plan", first_noted=date(2025, 9, 1),
    )  # fmt: skip
    # The newest note's denial decides the older note's complaint.
    assert "chest pain" in problems.denied
    # A relative's diabetes never overrides the patient's own (older) statement, which is of a
    # chronic condition: "History of type 2 diabetes" is the patient's diabetes, present.
    assert "type 2 diabetes" in problems.present
    assert "type 2 diabetes" not in problems.family
    # A concept only the older note names is decided there.
    assert "asthma" in problems.present
    assert problems.source_of("asthma").source == "DocumentReference/old"  # type: ignore[union-attr]
    assert [s.concept for s in problems.sources] == listed
    # The reading itself keeps every statement: the evaluation of the reading needs it.
    mentions = NoteSummarizer(reader, vectors).summarize(notes).mentions
    assert "hypertension" in mentions.present
    assert "hypertension" in mentions.possible
    assert "type 2 diabetes" in mentions.family


def test_boilerplate_is_never_quoted(
    reader: ClinicalReader,
    vectors: SentenceVectors,
    synthea_notes: dict[str, tuple[ClinicalNote, ...]],
) -> None:
    summarizer = NoteSummarizer(reader, vectors)
    for name, notes in synthea_notes.items():
        by_source = {n.source: n for n in notes}
        for excerpt in summarizer.summarize(notes).excerpts:
            analysis = summarizer.read(by_source[excerpt.source])
            index = next(i for i, s in enumerate(analysis.sentences) if s.start == excerpt.start)
            has_finding = any(f.sentence == index for f in analysis.findings)
            assert boilerplate_kind(excerpt.text, has_finding) is None, (name, excerpt.text)
            # The demo's complaints (issue item 5): billing lists, "nothing placed", demographics.
            for phrase in ("No orders placed", "(procedure)", "(regime/therapy)", "year-old"):
                assert phrase not in excerpt.text, (name, excerpt.text)


def test_copied_forward_text_is_quoted_once_from_the_newest_note(
    reader: ClinicalReader, vectors: SentenceVectors
) -> None:
    copied = "Type 2 diabetes managed with metformin and diet, HbA1c improving."
    notes = [
        note(
            "DocumentReference/old",
            datetime(2025, 6, 1),
            f"ASSESSMENT: {copied}\nKnee pain after a fall last week.",
        ),
        note(
            "DocumentReference/new",
            datetime(2026, 2, 1),
            f"ASSESSMENT: {copied}\nBlood pressure at goal on amlodipine.",
        ),
    ]
    summary = NoteSummarizer(reader, vectors).summarize(notes)
    quoted = [e for e in summary.excerpts if copied in e.text]
    assert len(quoted) == 1
    assert quoted[0].source == "DocumentReference/new"
    assert summary.note_count == 2
    assert summary.since == date(2025, 6, 1)


def test_a_copy_edited_on_the_way_is_quoted_once_from_the_newest_note(
    reader: ClinicalReader, vectors: SentenceVectors
) -> None:
    older = "Problems: type 2 diabetes, hypertension, hyperlipidemia, obesity and asthma."
    newer = "Problems: type 2 diabetes, hypertension, hyperlipidemia, obesity, asthma and anemia."
    notes = [
        note("DocumentReference/old", datetime(2025, 6, 1), f"ASSESSMENT: {older}"),
        note("DocumentReference/new", datetime(2026, 2, 1), f"ASSESSMENT: {newer}"),
    ]
    quoted = [e.text for e in NoteSummarizer(reader, vectors).summarize(notes).excerpts]
    assert any(newer in text for text in quoted)
    assert not any(older in text for text in quoted)


def test_a_second_view_is_read_from_the_cache(
    reader: ClinicalReader, synthea_notes: dict[str, tuple[ClinicalNote, ...]]
) -> None:
    counting = CountingReader(reader)
    summarizer = NoteSummarizer(counting, TfidfVectors())  # type: ignore[arg-type]
    notes = synthea_notes["synthea-1"]
    first = summarizer.summarize(notes)
    assert counting.reads == len(notes)
    assert summarizer.summarize(notes) == first
    assert counting.reads == len(notes)  # nothing was read again


def test_no_notes_gives_an_empty_summary(reader: ClinicalReader) -> None:
    summary = NoteSummarizer(reader, TfidfVectors()).summarize([])
    assert (summary.note_count, summary.excerpts, summary.since) == (0, (), None)
