"""The `hypertension-risk` card for a child under 13: AAP 2017's screening table, never a stage.

AAP 2017 reads a child's pressure by percentiles for age, sex and height, which the service
does not have. Its simplified table (Table 4) gives, by age (1-12) and sex, the value at or
above which a reading needs that evaluation: the card says the latest visit's pressure is at or
above it and that a percentile-based evaluation is needed (information). Below it, with no
age or sex the table covers, or without a reading in a year: no card.
"""

from __future__ import annotations

from cards.blood_pressure_parts import TOPIC
from cards.card_parts import IssuedCard, build_card, source
from cards.cds_card import Indicator
from cards.explanation import data_issue_lines, shown_number
from cards.policy import FeedbackHistory
from fhir_adapters.codes import ConditionKind, DrugClass
from fhir_adapters.patient_record import PatientRecord
from models.criteria import ADOLESCENT_AGE, aap_screening_value
from models.hypertension_readings import latest_visit

CHILD_SCREENING = "child-blood-pressure-screening"
AAP_TABLE = "AAP 2017 screening blood pressure values, Table 4 (cdss)"
SEX_WORDS = {"male": "boys", "female": "girls"}


def child_cards(
    record: PatientRecord, history: FeedbackHistory, hook_instance: str
) -> tuple[IssuedCard, ...]:
    """An information card when a child's latest visit is at or above AAP's screening value."""
    age, sex = record.demographics.age_years, record.demographics.sex.value
    visit = latest_visit(record)
    value = None if age is None else aap_screening_value(age, sex)
    if visit is None or value is None or history.holds_back(CHILD_SCREENING, None):
        return ()
    systolic, diastolic = value
    if visit.systolic < systolic and visit.diastolic < diastolic:
        return ()
    # Never rounded across the screening value it is read against.
    shown = (
        f"{shown_number(visit.systolic, (systolic,), 0)}/"
        f"{shown_number(visit.diastolic, (diastolic,), 0)} mmHg"
    )
    screening = f"{systolic:g}/{diastolic:g}"
    taken = "one reading" if visit.readings == 1 else f"mean of {visit.readings} readings"
    detail = [
        f"Blood pressure {shown} ({taken} on {visit.day}) at age {age}: at or above the AAP 2017 "
        f'screening value for {SEX_WORDS[sex]} of {age}, {screening} (Table 4, "Screening BP '
        'values requiring further evaluation").',
        "",
        "The screening value is the 90th percentile for the shortest children (5th height "
        "percentile): a reading at or above it needs evaluation against AAP 2017's percentile "
        "tables for age, sex and height, which the service does not have. It is not a stage: "
        "by percentile the pressure may be normal, elevated or hypertensive. AAP 2017 confirms "
        "a raised reading by auscultation and diagnoses hypertension on 3 separate visits.",
        "",
        f"The adult ACC/AHA categories and the adult risk estimates do not apply under "
        f"{ADOLESCENT_AGE}.",
        "",
        *(
            [
                "Hypertension is diagnosed or treated: AAP 2017's goal for a treated child is "
                "below the 90th percentile for age, sex and height.",
                "",
            ]
            if record.has_condition(ConditionKind.HYPERTENSION)
            or record.takes(DrugClass.ANTIHYPERTENSIVE)
            else []
        ),
        *data_issue_lines(record.data_issues),
    ]
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=CHILD_SCREENING,
            band=None,
            summary=f"BP {shown} at age {age}: at or above the AAP screening value "
            f"({screening}), percentile-based evaluation needed",
            indicator=Indicator.INFO,
            detail="\n".join(detail).strip(),
            source=source(AAP_TABLE, TOPIC),
        ),
    )
