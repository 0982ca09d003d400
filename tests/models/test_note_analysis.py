"""Reading notes: sentences are exact spans of the source, sections are found, and a finding
that is denied, possible, hypothetical, historical or a relative's is never read as present."""

from __future__ import annotations

from datetime import datetime

import pytest

from fhir_adapters.patient_record import ClinicalNote
from models.note_analysis import OTHER_SECTION, Assertion, ClinicalReader, reading_copy


@pytest.fixture(scope="module")
def reader() -> ClinicalReader:
    return ClinicalReader.load()


def note(text: str) -> ClinicalNote:
    return ClinicalNote(
        "DocumentReference/n1",
        "content[0].attachment",
        datetime(2026, 1, 3),
        "Note",
        "text/plain",
        text,
    )


@pytest.mark.parametrize(
    ("text", "concept", "assertion"),
    [
        ("Patient denies chest pain.", "chest pain", Assertion.NEGATED),
        ("No evidence of pneumonia.", "pneumonia", Assertion.NEGATED),
        ("1.No fever.", "fever", Assertion.NEGATED),
        ("2.No cough today.", "cough", Assertion.NEGATED),
        ("Pneumothorax ruled out.", "pneumothorax", Assertion.NEGATED),
        (
            "Patient was ruled out for myocardial infarction.",
            "myocardial infarction",
            Assertion.NEGATED,
        ),
        ("He has been ruled out for pneumonia.", "pneumonia", Assertion.NEGATED),
        ("Negative for fever.", "fever", Assertion.NEGATED),
        ("Pulmonary embolism excluded.", "pulmonary embolism", Assertion.NEGATED),
        ("Rule out pneumonia.", "pneumonia", Assertion.POSSIBLE),
        ("Possible urinary tract infection.", "urinary tract infection", Assertion.POSSIBLE),
        ("Return if shortness of breath.", "shortness of breath", Assertion.HYPOTHETICAL),
        ("History of stroke in 2019.", "stroke", Assertion.HISTORICAL),
        ("Mother has type 2 diabetes.", "type 2 diabetes", Assertion.FAMILY),
        ("Family history of hypertension.", "hypertension", Assertion.FAMILY),
        ("Type 2 diabetes, well controlled.", "type 2 diabetes", Assertion.PRESENT),
        ("HTN, stable on lisinopril.", "hypertension", Assertion.PRESENT),
        ("CKD stage 3, creatinine stable.", "chronic kidney disease", Assertion.PRESENT),
        ("Does not have fever.", "fever", Assertion.NEGATED),
        ("Migraine without aura, stress, anemia (disorder).", "anemia", Assertion.PRESENT),
        ("Not in labor force (finding), obesity (disorder).", "obesity", Assertion.PRESENT),
    ],
)
def test_how_a_finding_is_asserted(
    reader: ClinicalReader, text: str, concept: str, assertion: Assertion
) -> None:
    findings = reader.read(note(text)).findings
    assert [(f.concept, f.assertion) for f in findings] == [(concept, assertion)]


def test_a_negation_heading_a_list_covers_the_list(reader: ClinicalReader) -> None:
    findings = reader.read(note("No fever, chills, cough or night sweats.")).findings
    assert [(f.concept, f.assertion) for f in findings] == [
        ("fever", Assertion.NEGATED),
        ("chills", Assertion.NEGATED),
        ("cough", Assertion.NEGATED),
    ]


def test_sentences_are_exact_spans_of_the_source(reader: ClinicalReader) -> None:
    text = (
        "HISTORY OF PRESENT ILLNESS: 58 year old man with type 2 diabetes.\n  He denies chest "
        "pain.\nASSESSMENT AND PLAN:\n1.No fever.\n2.CKD stage 3, stable.\\nFollow up in 3 months."
    )
    analysis = reader.read(note(text))
    for sentence in analysis.sentences:
        assert sentence.text == text[sentence.start : sentence.end]
        assert sentence.text == sentence.text.strip()
    assert "1.No fever." in [s.text for s in analysis.sentences]
    assert "Follow up in 3 months." in [s.text for s in analysis.sentences]


def test_the_reading_copy_keeps_every_offset() -> None:
    text = "A: 1.No fever.\\n2.Stable.\n10.No rash. Version 2.5 kept."
    copy = reading_copy(text)
    assert len(copy) == len(text)
    assert copy == "A: 1 No fever. \n2 Stable.\n10 No rash. Version 2.5 kept."


@pytest.mark.parametrize(
    ("header", "section"),
    [
        ("ASSESSMENT AND PLAN:", "assessment_and_plan"),
        ("S:", "subjective"),
        ("O:", "objective"),
        ("A:", "assessment"),
        ("P:", "plan"),
        ("FAMILY HISTORY:", "family_history"),
    ],
)
def test_sections(reader: ClinicalReader, header: str, section: str) -> None:
    analysis = reader.read(note(f"{header} Type 2 diabetes, stable."))
    assert [s.section for s in analysis.sentences] == [section]
    assert analysis.findings[0].section == section


def test_text_before_any_header_is_in_the_other_section(reader: ClinicalReader) -> None:
    analysis = reader.read(note("Seen today for follow up. Hypertension, stable."))
    assert {s.section for s in analysis.sentences} == {OTHER_SECTION}


def test_each_finding_points_at_its_sentence(reader: ClinicalReader) -> None:
    analysis = reader.read(note("Seen today. Denies chest pain. Mother has diabetes."))
    for finding in analysis.findings:
        assert finding.text in analysis.sentences[finding.sentence].text


def test_a_list_line_does_not_negate_the_next(reader: ClinicalReader) -> None:
    analysis = reader.read(note("# Review of systems\n- No fever\n- Cough for 3 days\n"))
    assert [(f.concept, f.assertion) for f in analysis.findings] == [
        ("fever", Assertion.NEGATED),
        ("cough", Assertion.PRESENT),
    ]
    assert [(s.text, s.is_header) for s in analysis.sentences] == [
        ("Review of systems", True),
        ("- No fever", False),
        ("- Cough for 3 days", False),
    ]


def test_markdown_headers_are_sections(reader: ClinicalReader) -> None:
    text = "# History of Present Illness\nType 2 diabetes.\n\n## Plan\nHbA1c in 3 months."
    sections = [s.section for s in reader.read(note(text)).sentences]
    assert sections[1] == "history_of_present_illness"
    assert sections[-1] == "plan"


def test_a_header_word_inside_a_line_is_not_a_header(reader: ClinicalReader) -> None:
    text = "Seen for follow up. The plan: was discussed with her.\nPlan: HbA1c in 3 months."
    sections = [s.section for s in reader.read(note(text)).sentences]
    assert sections == [OTHER_SECTION, OTHER_SECTION, "plan"]
