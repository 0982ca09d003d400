"""Boilerplate by kind: coded procedure lists, attestations, no clinical content, templates."""

from __future__ import annotations

import pytest

from models.note_boilerplate import (
    TEMPLATE_MIN_NOTES,
    Boilerplate,
    boilerplate_kind,
    template_lines,
)

CODED, ADMINISTRATIVE = Boilerplate.CODED_TERM, Boilerplate.ADMINISTRATIVE
NO_CONTENT = Boilerplate.NO_CLINICAL_CONTENT


@pytest.mark.parametrize(
    ("text", "has_finding", "kind"),
    [
        # Synthea's lists of what was billed: the SNOMED tag names no problem.
        ("- initial patient assessment (procedure)", False, CODED),
        ("- nursing care/supplementary surveillance (regime/therapy)", False, CODED),
        ("- medication review due (situation)", False, CODED),
        ("- full-time employment (finding)", False, CODED),
        # A list's lead-in travels with its first item when a sentence spans both lines.
        (
            "- diabetic retinal eye exam (procedure)\nThe patient was prescribed the following "
            "medications:",
            False,
            CODED,
        ),
        ("The following procedures were conducted:", False, CODED),
        # LOINC test names listed without a result.
        ("- blood pressure panel with all children optional", False, CODED),
        ("- lipid panel with direct ldl - serum or plasma", False, CODED),
        ("- patient health questionnaire 2 item (phq-2) [reported]", False, CODED),
        # Attestation, signature, "nothing recorded", the kind of visit.
        ("No orders placed at this visit.", False, ADMINISTRATIVE),
        ("None recorded at this visit.", False, ADMINISTRATIVE),
        ("Routine visit; no new diagnoses recorded.", False, ADMINISTRATIVE),
        ("Patient was seen and examined with the resident.", False, ADMINISTRATIVE),
        ("I have reviewed the history and agree with the plan.", False, ADMINISTRATIVE),
        ("Electronically signed by J. Smith, MD on 03/04/2026.", False, ADMINISTRATIVE),
        # Demographics, insurance, marital status: nothing a clinician acts on here.
        ("Amalia is a 45 year-old non hispanic asian female.", False, NO_CONTENT),
        ("Patient currently has Cigna Health.", False, NO_CONTENT),
        ("Patient comes from a low socioeconomic background.", False, NO_CONTENT),
    ],
)  # fmt: skip
def test_boilerplate_is_recognised_by_kind(text: str, has_finding: bool, kind: Boilerplate) -> None:
    assert boilerplate_kind(text, has_finding) == kind


@pytest.mark.parametrize(
    ("text", "has_finding"),
    [
        # A coded term that is a problem stays, whether its tag or the reader says so.
        ("- chronic kidney disease stage 1 (disorder)", False),
        ("- prediabetes (finding)", True),
        ("Patient is presenting with dependent drug abuse (disorder).", False),
        # Content without a finding the reader knows: a measurement, a plan, a clinical word.
        ("Blood pressure at home 138/88.", False),
        ("- Systolic Blood Pressure: 136.1 mm[Hg]", False),
        ("- Body mass index (BMI) [Ratio]: 26.9 kg/m2", False),
        ("Recheck HbA1c in 6 months.", False),
        ("No acute cardiopulmonary abnormality.", False),
        ("Chest radiograph, two views.", False),
        ("Café au lait spots noted.", False),
        # Exam, radiology and hospital-course prose: its vocabulary is too wide for a word
        # list, so it is never judged to lack content.
        ("Gray-white matter differentiation is preserved.", False),
        ("Oxygen was weaned to room air on 2025-12-05.", False),
        ("Her daughter reports new confusion since yesterday.", False),
        ("The patient sounds well and is speaking comfortably.", False),
        # An attestation that also states a finding is the clinician's statement of it.
        ("I have reviewed the labs; hypertension remains uncontrolled.", True),
    ],
)
def test_clinical_sentences_are_not_boilerplate(text: str, has_finding: bool) -> None:
    assert boilerplate_kind(text, has_finding) is None


def test_a_line_in_most_of_the_charts_notes_is_a_template_unless_it_states_a_finding() -> None:
    template = "Return to clinic as scheduled for the next review."
    notes = [[template, f"Blood pressure {120 + n}/80."] for n in range(TEMPLATE_MIN_NOTES)]
    lines = template_lines(notes)
    assert lines == {"return to clinic as scheduled for the next review"}
    assert boilerplate_kind(template, has_finding=False, template=True) == Boilerplate.TEMPLATE
    # Copy-forward of a problem is the clinician's current statement, quoted once.
    assert boilerplate_kind("Hypertension, stable on lisinopril.", True, template=True) is None
    # Two notes sharing a line is copy-forward, not a template.
    assert template_lines(notes[: TEMPLATE_MIN_NOTES - 1]) == frozenset()
