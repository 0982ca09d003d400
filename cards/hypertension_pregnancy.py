"""The `hypertension-risk` cards in pregnancy and in the 6 weeks after a delivery (ACOG).

- Pregnant (an active pregnancy on the record): ACOG's thresholds on the pregnancy's latest
  pressure. 140/90 or more: a card naming the pregnancy and prompting obstetric evaluation for
  gestational hypertension or preeclampsia (warning); 160/110 or more, the severe range:
  critical. Below: none.
- Postpartum (an ended pregnancy that may have been delivered in the last 6 weeks): the same
  thresholds on the latest pressure since, prompting evaluation for postpartum preeclampsia
  (ACOG PB 222; Committee Opinion 736), not the adult detection.

Never an estimate, a provisional diagnosis or home monitoring. An override does not hold
these back: the pressure around a pregnancy changes within days.
"""

from __future__ import annotations

from cards.blood_pressure_parts import TOPIC, mmhg
from cards.card_parts import IssuedCard, build_card, source
from cards.cds_card import Indicator
from cards.explanation import data_issue_lines
from fhir_adapters.codes import ConditionKind, DrugClass
from fhir_adapters.patient_record import PatientRecord, Treatment
from models.criteria import (
    POSTPARTUM_WEEKS,
    PREECLAMPSIA_FROM_WEEKS,
    PREGNANCY_HYPERTENSION_DIASTOLIC,
    PREGNANCY_HYPERTENSION_SYSTOLIC,
    PREGNANCY_MAX_WEEKS,
    PREGNANCY_OCCASIONS_HOURS_APART,
    PREGNANCY_SEVERE_DIASTOLIC,
    PREGNANCY_SEVERE_SYSTOLIC,
)
from models.pregnancy import PregnancyPressure, RecentDelivery

PREGNANCY_RAISED = "pregnancy-blood-pressure-raised"
PREGNANCY_SEVERE = "pregnancy-blood-pressure-severe"
POSTPARTUM_RAISED = "postpartum-blood-pressure-raised"
POSTPARTUM_SEVERE = "postpartum-blood-pressure-severe"
ACOG = "ACOG Practice Bulletin 222: hypertension in pregnancy (cdss)"
ACOG_POSTPARTUM = "ACOG Practice Bulletin 222 and Committee Opinion 736: postpartum (cdss)"
RAISED = f"{PREGNANCY_HYPERTENSION_SYSTOLIC:g}/{PREGNANCY_HYPERTENSION_DIASTOLIC:g}"
SEVERE = f"{PREGNANCY_SEVERE_SYSTOLIC:g}/{PREGNANCY_SEVERE_DIASTOLIC:g}"
SEVERE_LINE = (
    f"**{SEVERE} or more is the severe range: confirm within 15 minutes and treat "
    "within 30-60 minutes (ACOG).**"
)


def _shown(pressure: PregnancyPressure) -> str:
    return f"{mmhg(pressure.systolic, pressure.diastolic)} mmHg"


def _taken(pressure: PregnancyPressure) -> str:
    if pressure.readings_that_day == 1:
        return "one reading"
    return f"mean of {pressure.readings_that_day} readings"


def _known_hypertension(record: PatientRecord) -> bool:
    return record.has_condition(ConditionKind.HYPERTENSION) or record.takes(
        DrugClass.ANTIHYPERTENSIVE
    )


def _unchecked_lines(record: PatientRecord) -> list[str]:
    """With no hypertension on record and a medication list unread, an antihypertensive (and
    so hypertension before the pregnancy) cannot be ruled out: said, the ACOG reading kept."""
    if _known_hypertension(record):
        return []
    if record.treatment(DrugClass.ANTIHYPERTENSIVE) is not Treatment.UNKNOWN:
        return []
    return [
        "",
        f"Treatment could not be checked: {record.unread_medications} could not be read. If an "
        "antihypertensive is taken, hypertension may predate the pregnancy (chronic "
        "hypertension): assess for superimposed preeclampsia.",
    ]


def pregnancy_cards(
    record: PatientRecord, pressure: PregnancyPressure | None, hook_instance: str
) -> tuple[IssuedCard, ...]:
    """A card when the pregnancy's latest pressure is 140/90 or more (ACOG); critical from
    160/110."""
    if pressure is None or not pressure.hypertensive:
        return ()
    raised = RAISED
    shown = _shown(pressure)
    pregnancy = pressure.pregnancy
    onset = f", onset {pregnancy.onset}" if pregnancy.onset else ""
    taken = _taken(pressure)
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
    known = _known_hypertension(record)
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
    detail += _unchecked_lines(record)
    if pressure.severe:
        detail += ["", SEVERE_LINE]
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


def postpartum_cards(
    record: PatientRecord,
    pressure: PregnancyPressure | None,
    delivery: RecentDelivery,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """A card when the latest pressure since a possible recent delivery is 140/90 or more
    (ACOG: postpartum preeclampsia up to 6 weeks); critical from 160/110."""
    if pressure is None or not pressure.hypertensive:
        return ()
    pregnancy = delivery.pregnancy
    count = (
        f"the only reading of {RAISED} or more since {delivery.readings_from}"
        if pressure.raised_readings == 1
        else f"{pressure.raised_readings} readings of {RAISED} or more since "
        f"{delivery.readings_from}"
    )
    ended = (
        f"A pregnancy recorded as ended on {pregnancy.abated} ({pregnancy.display}, "
        f"{pregnancy.source}), within the last {POSTPARTUM_WEEKS} weeks. "
        if delivery.end_recorded
        else f"A pregnancy recorded as ended ({pregnancy.display}, {pregnancy.source}, onset "
        f"{pregnancy.onset}). Its end date is not known to the service: a delivery "
        f"({PREECLAMPSIA_FROM_WEEKS} weeks or more after the onset, and by "
        f"{PREGNANCY_MAX_WEEKS} weeks, {delivery.delivered_by}) may have been within the last "
        f"{POSTPARTUM_WEEKS} weeks. "
    )
    detail = [
        f"{ended}Latest blood pressure {_shown(pressure)} ({_taken(pressure)} on {pressure.day}); "
        f"{count}.",
        "",
        "ACOG (Practice Bulletin 222; Committee Opinion 736, postpartum care): hypertension and "
        f"preeclampsia can first appear after delivery, up to {POSTPARTUM_WEEKS} weeks "
        f"postpartum; {RAISED} or more calls for evaluation for postpartum preeclampsia "
        "(headache, visual disturbance, breathlessness; urine protein, platelets, creatinine, "
        "liver enzymes).",
    ]
    if _known_hypertension(record):
        detail += [
            "",
            "Hypertension is diagnosed or treated: assess for superimposed preeclampsia.",
        ]
    detail += _unchecked_lines(record)
    if pressure.severe:
        detail += ["", SEVERE_LINE]
    detail += [
        "",
        f"Within {POSTPARTUM_WEEKS} weeks of a delivery the adult ACC/AHA detection and the "
        "risk estimates are not shown. If the pregnancy ended before "
        f"{PREECLAMPSIA_FROM_WEEKS} weeks or more than {POSTPARTUM_WEEKS} weeks ago, the adult "
        "categories apply.",
        "",
        *data_issue_lines(record.data_issues),
    ]
    summary = (
        f"BP {_shown(pressure)} after a recent pregnancy: severe range, urgent evaluation (ACOG)"
        if pressure.severe
        else f"BP {_shown(pressure)} after a recent pregnancy: evaluate for postpartum "
        "preeclampsia (ACOG)"
    )
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=POSTPARTUM_SEVERE if pressure.severe else POSTPARTUM_RAISED,
            band=None,
            summary=summary,
            indicator=Indicator.CRITICAL if pressure.severe else Indicator.WARNING,
            detail="\n".join(detail).strip(),
            source=source(ACOG_POSTPARTUM, TOPIC),
        ),
    )
