"""The `hypertension-risk` cards for patients the adult detection and estimates do not fit.

- On an antihypertensive: the last year's mean against the treatment goal (ACC/AHA 2017: below
  130/80). Above it: a card naming the medication; at goal: none; no reading in a year: a
  measurement. Never "no hypertension diagnosis", never a provisional diagnosis, never an
  estimate: the patient is treated for it.
"""

from __future__ import annotations

from cards.blood_pressure_parts import (
    TOPIC,
    home_monitoring,
    measurement,
    not_yet_accepted,
    pressure_text,
)
from cards.card_parts import IssuedCard, build_card, source
from cards.cds_card import Indicator
from cards.explanation import data_issue_lines
from cards.policy import FeedbackHistory
from fhir_adapters.codes import DrugClass
from fhir_adapters.patient_record import MedicationFact, PatientRecord
from models.criteria import TREATED_GOAL_TEXT
from models.hypertension import PressureSummary

ABOVE_GOAL = "blood-pressure-above-treatment-goal"
TREATED_UNMEASURED = "treated-blood-pressure-unmeasured"
ACC_AHA = "ACC/AHA 2017 blood pressure goal on treatment (cdss)"
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


def _named(medications: tuple[MedicationFact, ...]) -> str:
    names = [item.ingredient for item in medications]
    if len(names) > 3:
        return f"{', '.join(names[:2])} and {len(names) - 2} others"
    return " and ".join((", ".join(names[:-1]), names[-1])) if len(names) > 1 else names[0]


def treated_cards(
    record: PatientRecord,
    pressure: PressureSummary | None,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """The card for a patient on an antihypertensive: above goal, or unmeasured; else none."""
    medications = antihypertensives(record)
    named = _named(medications)
    listed = "; ".join(f"{item.display} ({item.source})" for item in medications)
    if pressure is None:
        if history.holds_back(TREATED_UNMEASURED, None):
            return ()
        reason = f"On {named}; no blood pressure recorded in 12 months"
        return (
            build_card(
                hook_instance=hook_instance,
                card_type=TREATED_UNMEASURED,
                band=None,
                orders=not_yet_accepted(history, measurement(record.patient_id, reason)),
                summary=f"On {named}, no BP in 12 months: measure to check the "
                f"{TREATED_GOAL_TEXT} goal",
                indicator=Indicator.INFO,
                detail=(
                    f"Active antihypertensive medication: {listed}. No blood pressure reading "
                    f"in the last 12 months, so whether it is below the {TREATED_GOAL_TEXT} "
                    "goal (ACC/AHA 2017) is not known. No probability is estimated: on treatment "
                    f"the question is whether the goal is met.\n\n{ASSUMPTION}"
                ),
                source=source(ACC_AHA, TOPIC),
            ),
        )
    if not pressure.above_treated_goal or history.holds_back(ABOVE_GOAL, None):
        return ()
    readings = pressure.systolic.note
    days = "one day" if pressure.occasions == 1 else f"{pressure.occasions} days"
    detail = [
        f"Mean blood pressure {pressure_text(pressure)} ({readings}, on {days}, the latest on "
        f"{pressure.systolic.effective}) on treatment: {listed}.",
        "",
        f"ACC/AHA 2017: the goal for most treated adults is below {TREATED_GOAL_TEXT} mmHg; "
        "confirm with home readings and review adherence, dose or an added agent.",
        "",
        ASSUMPTION,
        "",
        *data_issue_lines(record.data_issues),
    ]
    reason = f"Blood pressure {pressure_text(pressure)} on {named}, above the goal"
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=ABOVE_GOAL,
            band=None,
            orders=not_yet_accepted(history, home_monitoring(record.patient_id, reason)),
            summary=f"BP {pressure_text(pressure)} on {named}: above the {TREATED_GOAL_TEXT} "
            "goal on treatment"[:139],
            indicator=Indicator.WARNING if pressure.confirmed else Indicator.INFO,
            detail="\n".join(detail).strip(),
            source=source(ACC_AHA, TOPIC),
        ),
    )
