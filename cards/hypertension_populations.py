"""The `hypertension-risk` cards for known hypertension and for adolescents.

- Known hypertension (an active antihypertensive, or hypertension on the problem list): the
  mean against the goal (ACC/AHA 2017: below 130/80 for diagnosed hypertension, treated or
  not). On treatment the mean counts only readings taken after the treatment began (its order
  date; with none recorded, the last 3 months' readings, and the card says so). Above the goal:
  a card naming the medication, or saying that none is on record (or, when a medication list
  could not be read, that treatment could not be checked: never "none"); at goal: none; no
  reading: a measurement. Never "no hypertension diagnosis", never a provisional diagnosis, never an
  estimate. For ages 13-17 the goal is AAP 2017's (the same 130/80).
- Ages 13-17, untreated and undiagnosed: AAP 2017's adolescent categories (the adult numbers),
  worded as that guideline's, which diagnoses hypertension on 3 visits in the hypertensive
  range (not the adults' 2): on 3 a warning, on fewer an information card asking for the next
  visit. No adult suggestion (no provisional diagnosis, no home monitoring: AAP does not
  diagnose from home readings). Elevated or normal: no card.
"""

from __future__ import annotations

from cards.blood_pressure_parts import (
    STAGE_RANGES,
    TOPIC,
    home_monitoring,
    measurement,
    medication_names,
    not_yet_accepted,
    pressure_text,
    reading_text,
)
from cards.card_parts import IssuedCard, build_card, fitting_summary, source
from cards.cds_card import Indicator
from cards.explanation import data_issue_lines
from cards.hypertension_unmeasured import earlier_lines
from cards.policy import FeedbackHistory
from fhir_adapters.codes import ConditionKind, DrugClass
from fhir_adapters.patient_record import MedicationFact, PatientRecord, Treatment
from models.criteria import (
    ADOLESCENT_AGE,
    ADOLESCENT_HYPERTENSION_VISITS,
    ADULT_AGE,
    EARLIER_READINGS_SHOWN,
    TREATED_GOAL_TEXT,
    TREATED_READINGS_MONTHS_WHEN_START_UNKNOWN,
)
from models.features import BLOOD_PRESSURE_WINDOW
from models.hypertension import HypertensionAssessment
from models.hypertension_readings import PressureSummary, TreatmentWindow

ABOVE_GOAL = "blood-pressure-above-treatment-goal"
DIAGNOSED_ABOVE_GOAL = "diagnosed-blood-pressure-above-goal"
TREATED_UNMEASURED = "treated-blood-pressure-unmeasured"
DIAGNOSED_UNMEASURED = "diagnosed-blood-pressure-unmeasured"
ADOLESCENT = "adolescent-blood-pressure"
ACC_AHA = "ACC/AHA 2017 blood pressure goal on treatment (cdss)"
ACC_AHA_DIAGNOSED = "ACC/AHA 2017 blood pressure goal in hypertension (cdss)"
AAP_GOAL = "AAP 2017 pediatric blood pressure goal on treatment (cdss)"
AAP = "AAP 2017 pediatric blood pressure categories (cdss)"
# Some of these drugs have other uses (beta blockers for angina or arrhythmia, diuretics and
# spironolactone for heart failure): the card says what it assumes.
ASSUMPTION = (
    "The card assumes the medication is taken for blood pressure; some of these drugs have "
    "other uses (beta blockers, diuretics, spironolactone)."
)


def antihypertensives(record: PatientRecord) -> tuple[MedicationFact, ...]:
    """The active antihypertensives on the record, one per ingredient, newest first."""
    found: dict[str, MedicationFact] = {}
    for item in record.medications:
        if item.drug_class is DrugClass.ANTIHYPERTENSIVE:
            found.setdefault(item.ingredient, item)
    return tuple(found.values())


def treatment_unchecked(record: PatientRecord, drug_class: DrugClass) -> bool:
    """Whether a drug of the class is not on record only because a medication list could not
    be read: then no card may say that none is taken."""
    return record.treatment(drug_class) is Treatment.UNKNOWN


def unchecked_line(record: PatientRecord) -> str:
    """The sentence a card says in place of "none on record" when the lists were not read."""
    return f"Treatment could not be checked: {record.unread_medications} could not be read."


def _days(pressure: PressureSummary) -> str:
    return "one day" if pressure.occasions == 1 else f"{pressure.occasions} days"


def _diagnosis_line(record: PatientRecord) -> str:
    diagnosis = next(
        (
            item
            for item in record.conditions
            if item.kind is ConditionKind.HYPERTENSION and item.clinical_status.value != "resolved"
        ),
        None,
    )
    if diagnosis is None:
        return ""
    return f"Hypertension on the problem list ({diagnosis.display}, {diagnosis.source})."


def _treatment_lines(treatment: TreatmentWindow | None) -> list[str]:
    """What the mean on treatment counts, and the readings before treatment it leaves out."""
    if treatment is None:
        return []
    if treatment.started is None:
        lines = [
            "No start date is recorded for the medication: the mean uses the readings of the "
            f"last {TREATED_READINGS_MONTHS_WHEN_START_UNKNOWN} months only."
        ]
    else:
        lines = [
            f"Treatment ordered on {treatment.started}: only readings taken after that day "
            "count (readings before treatment say nothing of it)."
        ]
    if treatment.before:
        shown = "; ".join(reading_text(r) for r in treatment.before[:EARLIER_READINGS_SHOWN])
        more = len(treatment.before) - EARLIER_READINGS_SHOWN
        lines.append("")
        lines.append(
            f"Not counted, taken on or before {treatment.since}: {shown}"
            + (f"; and {more} more" if more > 0 else "")
            + "."
        )
    return lines


def _unmeasured_period(
    record: PatientRecord, treatment: TreatmentWindow | None, treated: bool
) -> str:
    """The period without a reading that counts, as the card says it."""
    if not treated or treatment is None:
        return "in the last 12 months"
    if treatment.started is None:
        return f"in the last {TREATED_READINGS_MONTHS_WHEN_START_UNKNOWN} months"
    if treatment.started > record.as_of - BLOOD_PRESSURE_WINDOW:
        return "since treatment began"
    return "in the last 12 months"


def goal_cards(
    record: PatientRecord,
    assessment: HypertensionAssessment,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """The card for known hypertension (treated or diagnosed): above goal, or unmeasured."""
    medications = antihypertensives(record)
    treated = bool(medications)
    # Diagnosed, and no antihypertensive read, but a medication list could not be read: the
    # goal is the same treated or not (ACC/AHA 2017, section 8.1.5), so the card stays, with
    # its indicator; it only may not say that none is taken, nor advise as if none were.
    unknown = treatment_unchecked(record, DrugClass.ANTIHYPERTENSIVE)
    pressure = assessment.pressure
    names = medication_names(medications)
    age = record.demographics.age_years
    adolescent = age is not None and age < ADULT_AGE
    guideline = "AAP 2017" if adolescent else "ACC/AHA 2017"
    label = AAP_GOAL if adolescent else ACC_AHA if treated else ACC_AHA_DIAGNOSED
    listed = (
        "Active antihypertensive medication: "
        + "; ".join(f"{item.display} ({item.source})" for item in medications)
        + "."
        if treated
        else unchecked_line(record)
        if unknown
        else "No antihypertensive on record."
    )
    known = [line for line in (_diagnosis_line(record), listed) if line]
    window = _treatment_lines(assessment.treatment)
    if pressure is None:
        card_type = TREATED_UNMEASURED if treated else DIAGNOSED_UNMEASURED
        if history.holds_back(card_type, None):
            return ()
        since = _unmeasured_period(record, assessment.treatment, treated)
        state = [f"On {name}" for name in names] if treated else ["Hypertension diagnosed"]
        summary = fitting_summary(
            *(f"{s}, no BP {since}: measure to check the {TREATED_GOAL_TEXT} goal" for s in state)
        )
        detail = [
            " ".join(known),
            "",
            f"No blood pressure reading {since}, so whether it is below the "
            f"{TREATED_GOAL_TEXT} goal ({guideline}) is not known. No probability is estimated: "
            "with known hypertension the question is whether the goal is met.",
            "",
            *window,
            "",
            *earlier_lines(assessment.earlier, known=True),
            "",
            ASSUMPTION if treated else "",
        ]
        return (
            build_card(
                hook_instance=hook_instance,
                card_type=card_type,
                band=None,
                orders=not_yet_accepted(
                    history,
                    measurement(
                        record.patient_id,
                        f"{state[0]}; no blood pressure recorded {since}",
                    ),
                ),
                summary=summary,
                indicator=Indicator.INFO,
                detail="\n".join(_without_blank_runs(detail)).strip(),
                source=source(label, TOPIC),
            ),
        )
    card_type = ABOVE_GOAL if treated else DIAGNOSED_ABOVE_GOAL
    if not pressure.above_treated_goal or history.holds_back(card_type, None):
        return ()
    readings = pressure.systolic.note
    shown = pressure_text(pressure)
    if treated:
        summaries = [
            f"BP {shown} on {name}: above the {TREATED_GOAL_TEXT} goal on treatment"
            for name in names
        ]
    elif unknown:
        summaries = [
            f"BP {shown} in diagnosed hypertension, treatment unknown (medications not read): "
            f"above the {TREATED_GOAL_TEXT} goal",
            f"BP {shown}, hypertension diagnosed, treatment unknown: above the "
            f"{TREATED_GOAL_TEXT} goal",
        ]
    else:
        summaries = [
            f"BP {shown} in diagnosed hypertension, no antihypertensive on record: above the "
            f"{TREATED_GOAL_TEXT} goal",
            f"BP {shown}, hypertension diagnosed, untreated: above the {TREATED_GOAL_TEXT} goal",
        ]
    if adolescent:
        advice = (
            f"AAP 2017: the goal for adolescents ({ADOLESCENT_AGE} and over) with hypertension is "
            f"below {TREATED_GOAL_TEXT} mmHg (or the 90th percentile); review adherence and dose."
        )
    elif treated:
        advice = (
            f"ACC/AHA 2017: the goal for most treated adults is below {TREATED_GOAL_TEXT} mmHg; "
            "confirm with home readings and review adherence, dose or an added agent."
        )
    elif unknown:
        advice = (
            f"ACC/AHA 2017: the goal in diagnosed hypertension is below {TREATED_GOAL_TEXT} mmHg. "
            "Check what the patient takes: if treated, confirm with home readings and review "
            "adherence, dose or an added agent; if not, lifestyle measures for all, and "
            "medication for stage 2, or for stage 1 with clinical cardiovascular disease or a "
            "10-year ASCVD risk of 10% or more."
        )
    else:
        advice = (
            f"ACC/AHA 2017: the goal in diagnosed hypertension is below {TREATED_GOAL_TEXT} mmHg. "
            "No antihypertensive is on record (or the one taken is not recognised): confirm "
            "with home readings; lifestyle measures for all, and medication for stage 2, or "
            "for stage 1 with clinical cardiovascular disease or a 10-year ASCVD risk of 10% "
            "or more."
        )
    detail = [
        f"Mean blood pressure {shown} ({readings}, on {_days(pressure)}, the latest on "
        f"{pressure.systolic.effective}). " + " ".join(known),
        "",
        *window,
        "",
        advice,
        "",
        ASSUMPTION if treated else "",
        "",
        *data_issue_lines(record.data_issues),
    ]
    reason = (
        f"Blood pressure {shown} on {names[0]}, above the goal"
        if treated
        else f"Blood pressure {shown} in diagnosed hypertension, above the goal"
    )
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=card_type,
            band=None,
            orders=not_yet_accepted(history, home_monitoring(record.patient_id, reason)),
            summary=fitting_summary(*summaries),
            indicator=Indicator.WARNING if pressure.confirmed else Indicator.INFO,
            detail="\n".join(_without_blank_runs(detail)).strip(),
            source=source(label, TOPIC),
        ),
    )


def _without_blank_runs(lines: list[str]) -> list[str]:
    """The lines with consecutive blank lines collapsed (optional paragraphs leave gaps)."""
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return kept


def adolescent_cards(
    record: PatientRecord,
    pressure: PressureSummary | None,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """A card for an untreated adolescent (13-17) whose mean is in AAP's stage 1 or 2 range:
    a warning on 3 visits in that range (AAP's diagnosis), information on fewer."""
    if pressure is None or pressure.stage == 0 or history.holds_back(ADOLESCENT, None):
        return ()
    stage = STAGE_RANGES[pressure.stage]
    age = record.demographics.age_years
    visits = ADOLESCENT_HYPERTENSION_VISITS
    raised = pressure.raised_occasions
    on_visits = "1 visit" if raised == 1 else f"{raised} visits"
    if pressure.adolescent_confirmed:
        verdict = (
            f"In the hypertensive range on {on_visits}: AAP 2017 diagnoses hypertension on "
            f"{visits} separate visits in that range. Confirm with ambulatory monitoring and "
            "evaluate (AAP 2017)."
        )
        summary = f"BP {pressure_text(pressure)} at age {age}, raised on {on_visits}: AAP 2017 "
        summary += f"stage {pressure.stage} (adolescent)"
    else:
        verdict = (
            f"In the hypertensive range on {on_visits} so far: AAP 2017 diagnoses hypertension "
            f"only on {visits} separate visits in that range (adults: 2 occasions), so this is "
            "not yet hypertension. Repeat at the next visits."
        )
        summary = fitting_summary(
            f"BP {pressure_text(pressure)} at age {age}, raised on {on_visits}: AAP 2017 needs "
            f"{visits} visits, repeat",
        )
    detail = [
        f"Mean blood pressure {pressure_text(pressure)} ({pressure.systolic.note}, on "
        f"{_days(pressure)}, the latest on {pressure.systolic.effective}), at age {age}: the "
        f"{stage} of the AAP 2017 categories for adolescents ({ADOLESCENT_AGE} and over). "
        + (
            f"No hypertension diagnosis is recorded. {unchecked_line(record)}"
            if treatment_unchecked(record, DrugClass.ANTIHYPERTENSIVE)
            else "No hypertension diagnosis or treatment is recorded."
        ),
        "",
        verdict,
        "",
        "Home readings do not diagnose it (AAP 2017). The adult ACC/AHA categories and the "
        f"adult risk estimates do not apply under {ADULT_AGE}.",
        "",
        *data_issue_lines(record.data_issues),
    ]
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=ADOLESCENT,
            band=None,
            summary=summary,
            indicator=Indicator.WARNING if pressure.adolescent_confirmed else Indicator.INFO,
            detail="\n".join(detail).strip(),
            source=source(AAP, TOPIC),
        ),
    )
