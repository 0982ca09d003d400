"""Reading notes: sentences are exact spans of the source, sections are found, and a finding
that is denied, possible, hypothetical, historical or a relative's is never read as present."""

from __future__ import annotations

from datetime import datetime

import pytest

from fhir_adapters.patient_record import ClinicalNote
from models.note_analysis import (
    MAX_NOTE_CHARACTERS,
    OTHER_SECTION,
    Assertion,
    ClinicalReader,
    reading_copy,
)


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
        ("Not in labor force (finding), obesity (disorder).", "obesity", Assertion.PRESENT),
    ],
)
def test_how_a_finding_is_asserted(
    reader: ClinicalReader, text: str, concept: str, assertion: Assertion
) -> None:
    findings = reader.read(note(text)).findings
    assert [(f.concept, f.assertion) for f in findings] == [(concept, assertion)]


def assertions(reader: ClinicalReader, text: str) -> list[tuple[str, Assertion]]:
    return [(f.concept, f.assertion) for f in reader.read(note(text)).findings]


def test_a_trigger_inside_a_name_does_not_deny_it_nor_what_follows(reader: ClinicalReader) -> None:
    assert assertions(reader, "Migraine without aura, stress, anemia (disorder).") == [
        ("migraine", Assertion.PRESENT),
        ("anemia", Assertion.PRESENT),
    ]


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


NEGATED_FEVER_WEIGHT_LOSS_POLYURIA = [
    ("fever", Assertion.NEGATED),
    ("weight loss", Assertion.NEGATED),
    ("polyuria", Assertion.NEGATED),
]


@pytest.mark.parametrize(
    "text",
    [
        "Negative for: fever, weight loss, polyuria.",
        "Negative for:\nfever\nweight loss\npolyuria",
        "Negative for:\n- fever\n- weight loss\n- polyuria",
        "ROS negative for:\n* fever\n* weight loss\n* polyuria",
        "Denies:\n1. fever\n2. weight loss\n3. polyuria",
        "No:\n  a) fever\n  b) weight loss\n  c) polyuria",
        "Patient denies the following:\n1) fever\n2) weight loss\n3) polyuria",
        "Negative for: fever,\nweight loss,\npolyuria",
        "## Review of systems\nNegative for:\n\u2022 fever\n\u2022 weight loss\n\u2022 polyuria",
        "Denies\n- fever\n- weight loss\n- polyuria",
        "Patient denies any of the following:\n- fever\n- weight loss\n- polyuria",
        "Review of systems is negative for the following:\n- fever\n- weight loss\n- polyuria",
    ],
)
def test_a_negation_header_denies_its_list_in_any_layout(reader: ClinicalReader, text: str) -> None:
    assert assertions(reader, text) == NEGATED_FEVER_WEIGHT_LOSS_POLYURIA


@pytest.mark.parametrize(
    "text",
    [
        # The list ends at a blank line,
        "Negative for:\nfever\nweight loss\npolyuria\n\nCough for 3 days.",
        "Denies:\n- fever\n- weight loss\n- polyuria\n\n- Cough for 3 days",
        # at a new header,
        "Negative for:\n- fever\n- weight loss\n- polyuria\nPositive for:\n- cough",
        "Negative for:\n- fever\n- weight loss\n- polyuria\n## Assessment\nCough.",
        # and at a line that is not an item.
        "Negative for:\nfever\nweight loss\npolyuria\nCough for 3 days.",
        "Denies:\n- fever\n- weight loss\n- polyuria\nReports cough.",
        "Negative for:\nfever\nweight loss\npolyuria\nHe has a cough.",
    ],
)
def test_after_the_list_a_finding_is_present_again(reader: ClinicalReader, text: str) -> None:
    assert assertions(reader, text) == [
        *NEGATED_FEVER_WEIGHT_LOSS_POLYURIA,
        ("cough", Assertion.PRESENT),
    ]


def test_an_answer_alone_on_its_line_heads_no_list(reader: ClinicalReader) -> None:
    assert assertions(reader, "Surgical history\nNone\nHypertension\nObesity") == [
        ("hypertension", Assertion.PRESENT),
        ("obesity", Assertion.PRESENT),
    ]


def test_a_positive_header_over_a_list_leaves_it_present(reader: ClinicalReader) -> None:
    assert assertions(reader, "Positive for:\n- cough\n- fever") == [
        ("cough", Assertion.PRESENT),
        ("fever", Assertion.PRESENT),
    ]


@pytest.mark.parametrize(
    ("text", "concept", "assertion"),
    [
        # A resolved problem is past; one that has not resolved is present.
        ("Pneumonia resolved.", "pneumonia", Assertion.HISTORICAL),
        ("Cough has resolved.", "cough", Assertion.HISTORICAL),
        ("Rash resolving.", "rash", Assertion.HISTORICAL),
        ("Pneumonia, now resolved.", "pneumonia", Assertion.HISTORICAL),
        ("Resolution of pneumonia on the repeat film.", "pneumonia", Assertion.HISTORICAL),
        ("Cough has not resolved.", "cough", Assertion.PRESENT),
        ("Cough has not yet resolved.", "cough", Assertion.PRESENT),
        ("Pneumonia unresolved.", "pneumonia", Assertion.PRESENT),
        ("Rash partially resolved.", "rash", Assertion.PRESENT),
        # A doubted diagnosis is possible, not denied; a likely one is possible too.
        ("Pulmonary embolism is unlikely.", "pulmonary embolism", Assertion.POSSIBLE),
        ("Pneumonia less likely.", "pneumonia", Assertion.POSSIBLE),
        ("Doubt pneumonia.", "pneumonia", Assertion.POSSIBLE),
        ("Pneumonia is doubtful.", "pneumonia", Assertion.POSSIBLE),
        ("Low suspicion for pulmonary embolism.", "pulmonary embolism", Assertion.POSSIBLE),
        ("Likely pneumonia.", "pneumonia", Assertion.POSSIBLE),
        ("Pneumonia likely.", "pneumonia", Assertion.POSSIBLE),
        ("Hyperkalemia, likely related to lisinopril.", "hyperkalemia", Assertion.PRESENT),
        ("Fatigue, likely from iron deficiency.", "fatigue", Assertion.PRESENT),
        ("Pulmonary embolism ruled out.", "pulmonary embolism", Assertion.NEGATED),
        # Looking for a finding is never finding it.
        ("Will screen for sleep apnea.", "obstructive sleep apnea", Assertion.POSSIBLE),
        ("Evaluate for anemia.", "anemia", Assertion.POSSIBLE),
        ("Order sleep study for OSA.", "obstructive sleep apnea", Assertion.POSSIBLE),
        ("Sleep study ordered for OSA.", "obstructive sleep apnea", Assertion.POSSIBLE),
        ("Check for proteinuria.", "proteinuria", Assertion.POSSIBLE),
        ("Rule out pulmonary embolism.", "pulmonary embolism", Assertion.POSSIBLE),
        ("Monitor for hypoglycemia.", "hypoglycemia", Assertion.POSSIBLE),
        ("Colon cancer screening is up to date.", "cancer", Assertion.HYPOTHETICAL),
        ("Depression screening positive.", "depression", Assertion.PRESENT),
        ("Positive screen for depression.", "depression", Assertion.PRESENT),
        ("Order lisinopril for hypertension.", "hypertension", Assertion.PRESENT),
        # The kinds of diabetes are their own concepts.
        ("History of gestational diabetes.", "gestational diabetes", Assertion.HISTORICAL),
        ("Gestational diabetes mellitus in 2019.", "gestational diabetes", Assertion.PRESENT),
        ("Prediabetes.", "prediabetes", Assertion.PRESENT),
        ("Diabetes insipidus, on desmopressin.", "diabetes insipidus", Assertion.PRESENT),
        ("Type 1 diabetes on a pump.", "type 1 diabetes", Assertion.PRESENT),
        ("T1DM on a pump.", "type 1 diabetes", Assertion.PRESENT),
        ("Diabetes mellitus type 2 (disorder).", "type 2 diabetes", Assertion.PRESENT),
        ("Diabetes, diet controlled.", "diabetes", Assertion.PRESENT),
        # Synthea's problem names.
        ("Prediabetes (finding).", "prediabetes", Assertion.PRESENT),
        ("Anemia (disorder).", "anemia", Assertion.PRESENT),
        ("Migraine (disorder).", "migraine", Assertion.PRESENT),
        ("Hypertriglyceridemia (disorder).", "hyperlipidemia", Assertion.PRESENT),
        ("Gastroesophageal reflux disease (disorder).", "GERD", Assertion.PRESENT),
        (
            "Urinary tract infectious disease (disorder).",
            "urinary tract infection",
            Assertion.PRESENT,
        ),
        ("Malignant neoplasm of breast (disorder).", "cancer", Assertion.PRESENT),
        ("Alzheimer's disease (disorder).", "dementia", Assertion.PRESENT),
        ("Suspected COVID-19 (situation).", "COVID-19", Assertion.POSSIBLE),
        ("DM type II, uncontrolled.", "type 2 diabetes", Assertion.PRESENT),
        ("Prediabetic, diet advised.", "prediabetes", Assertion.PRESENT),
    ],
)
def test_assertion_classes_new_notes_use(
    reader: ClinicalReader, text: str, concept: str, assertion: Assertion
) -> None:
    assert assertions(reader, text) == [(concept, assertion)]


@pytest.mark.parametrize(
    ("abbreviation", "concept"),
    [
        ("T2DM", "type 2 diabetes"),
        ("T1DM", "type 1 diabetes"),
        ("DM2", "type 2 diabetes"),
        ("HTN", "hypertension"),
        ("HLD", "hyperlipidemia"),
        ("CKD", "chronic kidney disease"),
        ("CAD", "coronary artery disease"),
        ("CHF", "heart failure"),
        ("COPD", "COPD"),
        ("OSA", "obstructive sleep apnea"),
        ("SOB", "shortness of breath"),
        ("DOE", "dyspnea on exertion"),
        ("AFib", "atrial fibrillation"),
        ("GERD", "GERD"),
        ("DM", "diabetes"),
        ("CAP", "pneumonia"),
    ],
)
def test_primary_care_abbreviations(
    reader: ClinicalReader, abbreviation: str, concept: str
) -> None:
    assert assertions(reader, f"Seen for {abbreviation}, stable.") == [(concept, Assertion.PRESENT)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Denies CP.", [("chest pain", Assertion.NEGATED)]),
        (
            "Reports CP/SOB.",
            [("chest pain", Assertion.PRESENT), ("shortness of breath", Assertion.PRESENT)],
        ),
        ("History of cerebral palsy (CP).", []),
        ("Hx of MI in 2015.", [("myocardial infarction", Assertion.HISTORICAL)]),
        ("Moved from Detroit, MI.", []),
        ("Take 1 cap daily.", []),
        ("Jane doe.", []),
        ("PE unlikely.", [("pulmonary embolism", Assertion.POSSIBLE)]),
        ("CTA to rule out PE.", [("pulmonary embolism", Assertion.POSSIBLE)]),
        ("PE: lungs clear.", []),
        ("PAF on apixaban.", [("atrial fibrillation", Assertion.PRESENT)]),
    ],
)
def test_ambiguous_abbreviations_are_read_only_where_safe(
    reader: ClinicalReader, text: str, expected: list[tuple[str, Assertion]]
) -> None:
    assert assertions(reader, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "No SOB at rest; mild SOB on stairs.",
            [
                ("shortness of breath", Assertion.NEGATED),
                ("dyspnea on exertion", Assertion.PRESENT),
            ],
        ),
        (
            "No SOB at rest, SOB on exertion.",
            [
                ("shortness of breath", Assertion.NEGATED),
                ("dyspnea on exertion", Assertion.PRESENT),
            ],
        ),
        (
            "Denies chest pain at rest, chest pain with exertion.",
            [("chest pain", Assertion.NEGATED), ("chest pain", Assertion.PRESENT)],
        ),
        # "at rest" does not end a denial over other findings.
        (
            "No chest pain at rest or with exertion, no palpitations.",
            [("chest pain", Assertion.NEGATED), ("palpitations", Assertion.NEGATED)],
        ),
        (
            "Denies dyspnea on exertion.",
            [("dyspnea on exertion", Assertion.NEGATED)],
        ),
    ],
)
def test_a_qualifier_splits_a_finding(
    reader: ClinicalReader, text: str, expected: list[tuple[str, Assertion]]
) -> None:
    assert assertions(reader, text) == expected


def test_a_resolution_covers_its_clause_not_the_list_before_it(reader: ClinicalReader) -> None:
    assert assertions(reader, "Fever and cough have resolved. CHF, pneumonia resolved.") == [
        ("fever", Assertion.HISTORICAL),
        ("cough", Assertion.HISTORICAL),
        ("heart failure", Assertion.PRESENT),
        ("pneumonia", Assertion.HISTORICAL),
    ]


def test_a_plan_verb_ends_a_looking_for_or_a_denial(reader: ClinicalReader) -> None:
    text = (
        "Labs to evaluate for anemia; continue metformin for T2DM. "
        "No chest pain; continue aspirin for CAD."
    )
    assert assertions(reader, text) == [
        ("anemia", Assertion.POSSIBLE),
        ("type 2 diabetes", Assertion.PRESENT),
        ("chest pain", Assertion.NEGATED),
        ("coronary artery disease", Assertion.PRESENT),
    ]


def test_a_relative_in_the_social_history_is_no_family_history(reader: ClinicalReader) -> None:
    text = (
        "Victim of intimate partner abuse (finding), anemia (disorder). "
        "Lives with his wife and has hypertension."
    )
    assert assertions(reader, text) == [
        ("anemia", Assertion.PRESENT),
        ("hypertension", Assertion.PRESENT),
    ]


def test_a_finding_named_in_a_procedure_is_not_a_problem(reader: ClinicalReader) -> None:
    text = (
        "The following procedures were conducted:\n- assessment of anxiety (procedure)\n"
        "- depression screening (procedure)"
    )
    assert assertions(reader, text) == []


def test_an_interval_history_is_present(reader: ClinicalReader) -> None:
    assert assertions(reader, "Interval history: cough for 3 days.") == [
        ("cough", Assertion.PRESENT)
    ]


def test_a_note_longer_than_the_limit_is_read_up_to_a_line_end_before_it(
    reader: ClinicalReader,
) -> None:
    line = "Hypertension, stable on lisinopril 20 mg daily.\n"
    text = line * (MAX_NOTE_CHARACTERS // len(line) + 10)

    analysis = reader.read(note(text))

    read = len(text) - analysis.unread_characters
    assert 0 < analysis.unread_characters < 11 * len(line)
    assert read <= MAX_NOTE_CHARACTERS
    assert text[:read].endswith("daily.")  # cut at a line's end, not inside the line
    assert all(s.end <= read and s.text == text[s.start : s.end] for s in analysis.sentences)
    assert analysis.findings
    assert {f.concept for f in analysis.findings} == {"hypertension"}


def test_a_note_within_the_limit_is_read_whole(reader: ClinicalReader) -> None:
    assert reader.read(note("Hypertension, stable.")).unread_characters == 0


# "History of" a chronic condition: the patient has it, unless the note says it is over.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("History of HTN.", [("hypertension", Assertion.PRESENT)]),
        ("Hx of type 2 diabetes, on metformin.", [("type 2 diabetes", Assertion.PRESENT)]),
        ("PMH: CKD stage 3", [("chronic kidney disease", Assertion.PRESENT)]),
        (
            "PAST MEDICAL HISTORY:\nHypertension\nAsthma\n\nPLAN: continue.",
            [("hypertension", Assertion.PRESENT), ("asthma", Assertion.PRESENT)],
        ),
        (
            "Past medical history of hypertension and COPD.",
            [("hypertension", Assertion.PRESENT), ("COPD", Assertion.PRESENT)],
        ),
        # "Prior" is the stroke's, not the hypertension's.
        (
            "Prior stroke, history of HTN.",
            [("stroke", Assertion.PRESENT), ("hypertension", Assertion.PRESENT)],
        ),
        # The "past" leading to one list item's cue is that item's, not the next one's.
        (
            "History of chronic pain, past pregnancy history of miscarriage, prediabetes.",
            [("prediabetes", Assertion.PRESENT)],
        ),
        # An acute or episodic event under "history of" is past.
        ("h/o pneumonia.", [("pneumonia", Assertion.HISTORICAL)]),
        ("History of DVT in 2021.", [("deep vein thrombosis", Assertion.HISTORICAL)]),
        ("History of stroke in 2019.", [("stroke", Assertion.HISTORICAL)]),
        # Not chronic: anaemia has self-limited causes, "history of cancer" means treated.
        ("History of anemia.", [("anemia", Assertion.HISTORICAL)]),
        ("History of breast cancer.", [("cancer", Assertion.HISTORICAL)]),
        ("History of gestational diabetes.", [("gestational diabetes", Assertion.HISTORICAL)]),
        # Said to be over.
        ("Hypertension, resolved.", [("hypertension", Assertion.HISTORICAL)]),
        ("History of prediabetes, resolved.", [("prediabetes", Assertion.HISTORICAL)]),
        (
            "Past history of depression, now in remission.",
            [("depression", Assertion.HISTORICAL)],
        ),
        ("Remote history of depression, in remission.", [("depression", Assertion.HISTORICAL)]),
        ("Prior history of atrial fibrillation.", [("atrial fibrillation", Assertion.HISTORICAL)]),
        ("Hx of asthma as a child.", [("asthma", Assertion.HISTORICAL)]),
        (
            "History of hypertension, no longer on medication.",
            [("hypertension", Assertion.HISTORICAL)],
        ),
        ("History of hypertension during pregnancy.", [("hypertension", Assertion.HISTORICAL)]),
        # A denial, a doubt and a relative's condition are left as they are.
        ("No history of hypertension.", [("hypertension", Assertion.NEGATED)]),
        ("Family history of hypertension.", [("hypertension", Assertion.FAMILY)]),
        ("Possible history of asthma.", [("asthma", Assertion.POSSIBLE)]),
    ],
)
def test_a_chronic_condition_under_history_of_is_present(
    reader: ClinicalReader, text: str, expected: list[tuple[str, Assertion]]
) -> None:
    assert assertions(reader, text) == expected


def test_synthea_history_line_lists_present_chronic_problems(reader: ClinicalReader) -> None:
    text = (
        "Maria is a 58 year-old female. Patient has a history of essential hypertension "
        "(disorder), chronic kidney disease stage 3 (disorder), diabetes mellitus type 2 "
        "(disorder), pneumonia (disorder), fracture of forearm (disorder), prediabetes (finding) "
        "and chronic intractable migraine without aura (disorder)."
    )
    assert assertions(reader, text) == [
        ("hypertension", Assertion.PRESENT),
        ("chronic kidney disease", Assertion.PRESENT),
        ("type 2 diabetes", Assertion.PRESENT),
        ("pneumonia", Assertion.HISTORICAL),
        ("fracture", Assertion.HISTORICAL),
        ("prediabetes", Assertion.PRESENT),
        ("migraine", Assertion.PRESENT),
    ]
