"""The `hypertension-risk` cards for patients the adult detection and estimates do not fit.

- On an antihypertensive: the last year's mean against the treatment goal (ACC/AHA 2017: below
  130/80). Above it: a card naming the medication; at goal: none; no reading in a year: a
  measurement. Never "no hypertension diagnosis", never a provisional diagnosis, never an
  estimate: the patient is treated for it. For ages 13-17 the goal is AAP 2017's (the same
  130/80).
- Pregnant (an active pregnancy on the record): ACOG's thresholds on the pregnancy's latest
  pressure. 140/90 or more: a card naming the pregnancy and prompting obstetric evaluation for
  gestational hypertension or preeclampsia (warning); 160/110 or more, the severe range:
  critical. Below: none. Never an estimate, a provisional diagnosis or home monitoring. An
  override does not hold these back: a pregnancy's pressure changes within days.
- Ages 13-17, untreated: AAP 2017's adolescent categories (the adult numbers), worded as that
  guideline's, with no adult suggestion (no provisional diagnosis, no home monitoring: AAP
  does not diagnose from home readings). Elevated or normal: no card.
"""

from __future__ import annotations

from cards.blood_pressure_parts import (
    STAGE_RANGES,
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
from fhir_adapters.codes import ConditionKind, DrugClass
from fhir_adapters.patient_record import MedicationFact, PatientRecord
from models.criteria import (
    ADOLESCENT_AGE,
    ADULT_AGE,
    PREGNANCY_HYPERTENSION_DIASTOLIC,
    PREGNANCY_HYPERTENSION_SYSTOLIC,
    PREGNANCY_OCCASIONS_HOURS_APART,
    PREGNANCY_SEVERE_DIASTOLIC,
    PREGNANCY_SEVERE_SYSTOLIC,
    TREATED_GOAL_TEXT,
)
from models.hypertension import PressureSummary
from models.pregnancy import PregnancyPressure

ABOVE_GOAL = "blood-pressure-above-treatment-goal"
TREATED_UNMEASURED = "treated-blood-pressure-unmeasured"
ADOLESCENT = "adolescent-blood-pressure"
PREGNANCY_RAISED = "pregnancy-blood-pressure-raised"
PREGNANCY_SEVERE = "pregnancy-blood-pressure-severe"
ACOG = "ACOG Practice Bulletin 222: hypertension in pregnancy (cdss)"
ACC_AHA = "ACC/AHA 2017 blood pressure goal on treatment (cdss)"
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
    age = record.demographics.age_years
    adolescent = age is not None and age < ADULT_AGE
    guideline = "AAP 2017" if adolescent else "ACC/AHA 2017"
    label = AAP_GOAL if adolescent else ACC_AHA
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
                    f"goal ({guideline}) is not known. No probability is estimated: on treatment "
                    f"the question is whether the goal is met.\n\n{ASSUMPTION}"
                ),
                source=source(label, TOPIC),
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
        (
            f"AAP 2017: the goal for treated adolescents ({ADOLESCENT_AGE} and over) is below "
            f"{TREATED_GOAL_TEXT} mmHg (or the 90th percentile); review adherence and dose."
            if adolescent
            else f"ACC/AHA 2017: the goal for most treated adults is below {TREATED_GOAL_TEXT} "
            "mmHg; confirm with home readings and review adherence, dose or an added agent."
        ),
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
            source=source(label, TOPIC),
        ),
    )


def adolescent_cards(
    record: PatientRecord,
    pressure: PressureSummary | None,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """A card for an untreated adolescent (13-17) whose mean is in AAP's stage 1 or 2 range."""
    if pressure is None or pressure.stage == 0 or history.holds_back(ADOLESCENT, None):
        return ()
    stage = STAGE_RANGES[pressure.stage]
    days = "one day" if pressure.occasions == 1 else f"{pressure.occasions} days"
    detail = [
        f"Mean blood pressure {pressure_text(pressure)} ({pressure.systolic.note}, on {days}, "
        f"the latest on {pressure.systolic.effective}), at age "
        f"{record.demographics.age_years}: the {stage} of the AAP 2017 categories for "
        f"adolescents ({ADOLESCENT_AGE} and over). No hypertension diagnosis or treatment is "
        "recorded.",
        "",
        "AAP 2017 diagnoses hypertension from readings at this level on three separate "
        "visits, with ambulatory monitoring to confirm; home readings do not diagnose it. The "
        f"adult ACC/AHA categories and the adult risk estimates do not apply under {ADULT_AGE}.",
        "",
        *data_issue_lines(record.data_issues),
    ]
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=ADOLESCENT,
            band=None,
            summary=f"BP {pressure_text(pressure)} on {days} at age "
            f"{record.demographics.age_years}: AAP 2017 stage {pressure.stage} range "
            "(adolescent)",
            indicator=Indicator.WARNING if pressure.confirmed else Indicator.INFO,
            detail="\n".join(detail).strip(),
            source=source(AAP, TOPIC),
        ),
    )


def pregnancy_cards(
    record: PatientRecord, pressure: PregnancyPressure | None, hook_instance: str
) -> tuple[IssuedCard, ...]:
    """A card when the pregnancy's latest pressure is 140/90 or more (ACOG); critical from
    160/110."""
    if pressure is None or not pressure.hypertensive:
        return ()
    raised = f"{PREGNANCY_HYPERTENSION_SYSTOLIC:g}/{PREGNANCY_HYPERTENSION_DIASTOLIC:g}"
    severe = f"{PREGNANCY_SEVERE_SYSTOLIC:g}/{PREGNANCY_SEVERE_DIASTOLIC:g}"
    shown = f"{pressure.systolic:.0f}/{pressure.diastolic:.0f} mmHg"
    pregnancy = pressure.pregnancy
    onset = f", onset {pregnancy.onset}" if pregnancy.onset else ""
    taken = (
        "one reading"
        if pressure.readings_that_day == 1
        else f"mean of {pressure.readings_that_day} readings"
    )
    hours = PREGNANCY_OCCASIONS_HOURS_APART
    if pressure.raised_readings == 1:
        count = f"the only reading of {raised} or more in this pregnancy, so not yet on two "
        count += f"occasions {hours} hours apart"
    else:
        count = f"{pressure.raised_readings} readings of {raised} or more in this pregnancy, "
        count += (
            f"at least {hours} hours apart"
            if pressure.raised_hours_apart
            else f"all within {hours} hours"
        )
    known = record.has_condition(ConditionKind.HYPERTENSION) or record.takes(
        DrugClass.ANTIHYPERTENSIVE
    )
    detail = [
        f"Pregnancy on the record ({pregnancy.display}, {pregnancy.source}{onset}). Latest "
        f"blood pressure {shown} ({taken} on {pressure.day}); {count}.",
        "",
        f"ACOG (Practice Bulletin 222): a new {raised} or more on two occasions at least "
        f"{PREGNANCY_OCCASIONS_HOURS_APART} hours apart after 20 weeks is gestational "
        "hypertension; with proteinuria or severe features, preeclampsia. Assess for "
        "preeclampsia (symptoms, urine protein, platelets, creatinine, liver enzymes).",
    ]
    if known:
        detail += [
            "",
            "Hypertension is diagnosed or treated: if it predates the pregnancy or 20 weeks it "
            "is chronic hypertension; assess for superimposed preeclampsia.",
        ]
    if pressure.severe:
        detail += [
            "",
            f"**{severe} or more is the severe range: confirm within 15 minutes and treat "
            "within 30-60 minutes (ACOG).**",
        ]
    detail += [
        "",
        "The adult risk estimates and ACC/AHA categories do not apply in pregnancy.",
        "",
        *data_issue_lines(record.data_issues),
    ]
    summary = (
        f"BP {shown} in pregnancy: severe range, urgent obstetric evaluation (ACOG)"
        if pressure.severe
        else f"BP {shown} in pregnancy: evaluate for gestational hypertension or preeclampsia"
    )
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=PREGNANCY_SEVERE if pressure.severe else PREGNANCY_RAISED,
            band=None,
            summary=summary,
            indicator=Indicator.CRITICAL if pressure.severe else Indicator.WARNING,
            detail="\n".join(detail).strip(),
            source=source(ACOG, TOPIC),
        ),
    )
