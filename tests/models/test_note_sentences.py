"""Clinical sentences: line layout and terminal punctuation end them; abbreviations, initials,
decimals, list numbers and ellipses do not; the spaCy component gives the same sentences."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import spacy

from demo_ehr.patients import synthea_patients
from fhir_adapters.record_builder import build_patient_record
from models.note_analysis import reading_copy
from models.note_sentences import SENTENCES_COMPONENT, register, sentence_starts, trimmed

EVALUATION_CASES = Path(__file__).parent.parent / "data" / "note_eval" / "cases.json"
# Reference sentences of the development cases that PyRuSH with the line-break rule gave as
# one sentence exactly: 108 of the 116 in the set's first 36 cases (bench/sentence_splitting.py).
PYRUSH_EXACT_MATCHES = 108
MAX_NOTES = 10  # as [notes] max_notes


def sentences(text: str) -> list[str]:
    """The text cut at its sentence starts, each piece stripped."""
    starts = sentence_starts(text)
    return [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=False)]


def note_spans(text: str) -> list[tuple[int, int]]:
    """A note's sentences as the clinical reader cuts them: found in the reading copy, spans of
    the note with the white space of either trimmed."""
    copy = reading_copy(text)
    starts = sentence_starts(copy)
    spans = []
    for first, last in zip(starts, [*starts[1:], len(text)], strict=False):
        start, end = trimmed(text, copy, first, last)
        if start < end:
            spans.append((start, end))
    return spans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "S: 71-year-old woman with CKD stage 3 here for lab review. Reports mild fatigue.\n"
            "O: BP 138/74, HR 68. No edema on exam.\nA: CKD stage 3, stable.\n"
            "P: Repeat BMP in 1 week.",
            [
                "S: 71-year-old woman with CKD stage 3 here for lab review.",
                "Reports mild fatigue.",
                "O: BP 138/74, HR 68.",
                "No edema on exam.",
                "A: CKD stage 3, stable.",
                "P: Repeat BMP in 1 week.",
            ],
            id="SOAP note",
        ),
        pytest.param(
            "ASSESSMENT AND PLAN:\n1. Type 2 diabetes, above goal. Add empagliflozin 10 mg daily."
            "\n2. Hypertension, not at goal.\n10. Hyperlipidemia, continue atorvastatin.",
            [
                "ASSESSMENT AND PLAN:",
                "1. Type 2 diabetes, above goal.",
                "Add empagliflozin 10 mg daily.",
                "2. Hypertension, not at goal.",
                "10. Hyperlipidemia, continue atorvastatin.",
            ],
            id="numbered assessment and plan",
        ),
        pytest.param(
            "Plan: 1. Start metformin. 2. Recheck HbA1c in 3 months.",
            ["Plan: 1. Start metformin.", "2. Recheck HbA1c in 3 months."],
            id="numbered list inside a line",
        ),
        pytest.param(
            "Medications\n- metformin 500 mg\n- lisinopril 10 mg\n* aspirin 81 mg\nAllergies: none",
            [
                "Medications",
                "- metformin 500 mg",
                "- lisinopril 10 mg",
                "* aspirin 81 mg",
                "Allergies: none",
            ],
            id="vertical list",
        ),
        pytest.param(
            "VITALS: BP 146/88, HR 76. Lungs clear.\nLABS: HbA1c 7.2% on 2026-01-05. "
            "Creatinine 1.0 mg/dL, eGFR 84.",
            [
                "VITALS: BP 146/88, HR 76.",
                "Lungs clear.",
                "LABS: HbA1c 7.2% on 2026-01-05.",
                "Creatinine 1.0 mg/dL, eGFR 84.",
            ],
            id="vitals and labs",
        ),
        pytest.param(
            "Take 1.5 mg daily. Weight 85.7 kg today. eGFR 74, pH 7.31. pCO2 40.",
            ["Take 1.5 mg daily.", "Weight 85.7 kg today.", "eGFR 74, pH 7.31.", "pCO2 40."],
            id="decimals",
        ),
        pytest.param(
            "He reports worsening dyspnea over the\npast week and orthopnea. Denies fever.",
            ["He reports worsening dyspnea over the\npast week and orthopnea.", "Denies fever."],
            id="a hard wrap",
        ),
        pytest.param(
            "Plan\n\nFollow up in 3 months",
            ["Plan", "Follow up in 3 months"],
            id="a blank line",
        ),
        pytest.param(
            "Metformin 500 mg daily; lisinopril 10 mg daily; atorvastatin 40 mg nightly.",
            ["Metformin 500 mg daily; lisinopril 10 mg daily; atorvastatin 40 mg nightly."],
            id="semicolons",
        ),
        pytest.param(
            "HEART FAILURE CLINIC VISIT\nSUBJECTIVE: Seen after discharge.\n"
            "PROGRESS NOTE\nPatient seen today.",
            [
                "HEART FAILURE CLINIC VISIT",
                "SUBJECTIVE: Seen after discharge.",
                "PROGRESS NOTE",
                "Patient seen today.",
            ],
            id="title lines and labels",
        ),
        pytest.param(
            "NO FEVER, CHILLS OR\nNIGHT SWEATS.",
            ["NO FEVER, CHILLS OR\nNIGHT SWEATS."],
            id="a wrap in a note written in capitals",
        ),
        pytest.param(
            "- No calf pain\nFamily history: mother with breast cancer.",
            ["- No calf pain", "Family history: mother with breast cancer."],
            id="a label after a list",
        ),
        pytest.param(
            "# Plan\nHbA1c in 3 months.",
            ["# Plan", "HbA1c in 3 months."],
            id="a Markdown header",
        ),
        pytest.param(
            "Temp 38.4 C. Also reports headache. Low vitamin D. Start ergocalciferol.",
            ["Temp 38.4 C.", "Also reports headache.", "Low vitamin D.", "Start ergocalciferol."],
            id="a capital letter that is a unit or a designation",
        ),
        pytest.param(
            'She said "I feel fine." Then she left. Fever? No. Cough? Yes!',
            ['She said "I feel fine."', "Then she left.", "Fever?", "No.", "Cough?", "Yes!"],
            id="quotes and questions",
        ),
        pytest.param(
            "A. No acute distress.",
            ["A.", "No acute distress."],
            id="a label the reading copy ended with a full stop",
        ),
        pytest.param("  \n ", [], id="no text"),
    ],
)
def test_sentences_of_clinical_layouts(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Seen by Dr. Smith and Mr. Jones, then Mrs. Lee and Ms. Park.",
        "Discussed options, e.g. Diet and exercise, i.e. Lifestyle first.",
        "Metformin vs. Sulfonylurea was discussed.",
        "Lost approx. 5 kg since the last visit.",
        "Brought glucose log, BP log, etc. To return next week.",
        "Metformin 500 mg. Daily with meals.",
        "Amoxicillin b.i.d. For 10 days, then t.i.d. As needed, aspirin q.d. With food.",
        "Ondansetron p.o. Every 8 hours.",
        "Pt. Reports improvement.",
        "Lives on St. Paul Avenue.",
        "Uses a No. 2 catheter.",
        "Seen with J. Smith, NP.",
        "Arrived at 10 a.m. Then was triaged by 2 p.m. Today.",
        "Pain improved... Still tender at the incision.",
        "Urine culture grew E. coli sensitive to ceftriaxone.",
    ],
)
def test_what_does_not_end_a_sentence(text: str) -> None:
    assert sentences(text) == [text]


def test_starts_are_sorted_and_begin_at_the_first_word() -> None:
    text = "\n  HPI: 58-year-old man. He denies chest pain.\n\nPlan: recheck."
    starts = sentence_starts(text)
    assert starts == sorted(set(starts))
    assert starts[0] == text.index("HPI")
    assert all(not text[start].isspace() for start in starts)


@pytest.fixture(scope="module")
def synthea_notes() -> list[str]:
    """The reading copies of each Synthea chart's most recent notes, as bench/note_costs.py."""
    texts = []
    for bundle in synthea_patients().values():
        resources: list[dict[str, Any]] = [
            {"id": f"r{n}", **entry["resource"]} for n, entry in enumerate(bundle["entry"])
        ]
        patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        notes = build_patient_record(patient, resources, date(2026, 11, 23)).notes
        recent = sorted(notes, key=lambda n: n.date or datetime.min)[-MAX_NOTES:]
        texts += [reading_copy(note.text) for note in recent]
    return texts


def test_each_line_of_a_synthea_note_is_its_own_sentence(synthea_notes: list[str]) -> None:
    # Synthea writes headers, list items and whole sentences, one to a line, never a wrap.
    for copy in synthea_notes:
        starts = set(sentence_starts(copy))
        offset = 0
        for line in copy.split("\n"):
            if line.strip():
                assert offset + len(line) - len(line.lstrip()) in starts, line
            offset += len(line) + 1


@pytest.fixture(scope="module")
def evaluation_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(EVALUATION_CASES.read_text())["cases"]
    return cases


def test_reference_sentences_are_whole_sentences(evaluation_cases: list[dict[str, Any]]) -> None:
    exact = 0
    for case in evaluation_cases:
        spans = {note["id"]: note_spans(note["text"]) for note in case["notes"]}
        for reference in case["reference_summary"]:
            found = [
                (note["id"], start, start + len(reference))
                for note in case["notes"]
                if (start := note["text"].find(reference)) >= 0
            ]
            assert found, reference
            starts_and_ends = [
                (
                    start in {a for a, _ in spans[note_id]},
                    end in {b for _, b in spans[note_id]},
                    (start, end) in spans[note_id],
                )
                for note_id, start, end in found
            ]
            assert any(starts and ends for starts, ends, _ in starts_and_ends), reference
            exact += any(whole for _, _, whole in starts_and_ends)
    assert exact >= PYRUSH_EXACT_MATCHES


@pytest.fixture(scope="module")
def pipeline() -> Any:
    register()
    register()  # a second call must not fail: spaCy refuses a factory registered twice
    nlp = spacy.blank("en")
    nlp.add_pipe(SENTENCES_COMPONENT)
    return nlp


def test_the_spacy_component_gives_the_same_sentences(
    pipeline: Any, evaluation_cases: list[dict[str, Any]], synthea_notes: list[str]
) -> None:
    texts = [
        reading_copy(note["text"]) for case in evaluation_cases for note in case["notes"]
    ] + synthea_notes[:5]
    texts += ["  Leading space. Then a sentence.\n\n  - item one\n- item two  "]
    for text in texts:
        doc = pipeline(text)
        found = [span.start_char + len(span.text) - len(span.text.lstrip()) for span in doc.sents]
        assert found == sentence_starts(text)
