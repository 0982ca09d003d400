"""The `hypertension-risk` card when no blood pressure was taken in the last 12 months.

The NHANES model's probability that it would be 130/80 or higher if measured, by band, with
a measurement; and the older readings, which the model does not use but which still say
something (issue 16, item 14): the card lists them with their dates and categories and says
what they mean. When every earlier reading was 130/80 or higher the card is a warning whatever
the estimate, since a measurement is due: hypertension may be present and undiagnosed.
"""

from __future__ import annotations

from cards.blood_pressure_parts import (
    TOPIC,
    home_monitoring,
    measurement,
    not_yet_accepted,
    reading_text,
)
from cards.card_parts import (
    IssuedCard,
    build_card,
    fitting_summary,
    model_card_markdown,
    risk_links,
    source,
)
from cards.cds_card import Indicator
from cards.explanation import (
    caveat_lines,
    data_issue_lines,
    factor_lines,
    missing_inputs,
    missing_lines,
    percent,
    unusable_input_lines,
)
from cards.policy import CardPolicy, FeedbackHistory
from fhir_adapters.codes import DrugClass
from fhir_adapters.patient_record import BloodPressureReading, PatientRecord, Treatment
from models.criteria import (
    EARLIER_READINGS_SHOWN,
    EARLIER_READINGS_YEARS,
    STAGE1_PRESSURE_TEXT,
    blood_pressure_category,
)
from models.prediction import NoEstimate, RiskEstimate
from models.risk_models import UNMEASURED_BLOOD_PRESSURE

UNMEASURED = "blood-pressure-unmeasured"
NOT_USED = "This estimate does not use readings older than 12 months."


def _raised(reading: BloodPressureReading) -> bool:
    category = blood_pressure_category(reading.systolic or 0.0, reading.diastolic or 0.0)
    return category.hypertension_stage > 0


def earlier_lines(earlier: tuple[BloodPressureReading, ...], known: bool = False) -> list[str]:
    """What the readings older than 12 months were, and what they mean (for known hypertension,
    `known`: whether they were at the 130/80 goal)."""
    if not earlier:
        return []
    shown = "; ".join(reading_text(r) for r in earlier[:EARLIER_READINGS_SHOWN])
    more = len(earlier) - EARLIER_READINGS_SHOWN
    listed = shown + (f"; and {more} older" if more > 0 else "")
    count, raised = len(earlier), sum(_raised(r) for r in earlier)
    every = {1: "The only earlier reading was", 2: "Both earlier readings were"}.get(
        count, f"All {count} earlier readings were"
    )
    if known:
        share = every if raised in (0, count) else f"{raised} of {count} earlier readings were"
        where = "below" if raised == 0 else "at or above"
        meaning = (
            f"{share} {where} the {STAGE1_PRESSURE_TEXT} goal; "
            f"{'it does' if count == 1 else 'they do'} not say whether it is met now."
        )
    elif raised == count:
        meaning = (
            f"{every} at or above {STAGE1_PRESSURE_TEXT} (ACC/AHA 2017 stage 1 or 2 range): a "
            "measurement is due; hypertension may be present and undiagnosed."
        )
    elif raised:
        meaning = (
            f"{raised} of {count} earlier readings were at or above {STAGE1_PRESSURE_TEXT}: a "
            "measurement is due to tell whether the pressure is raised now."
        )
    else:
        meaning = f"{every} below {STAGE1_PRESSURE_TEXT}."
    window = f"1 to {EARLIER_READINGS_YEARS} years old, in adulthood"
    return [f"Earlier readings ({window}): {listed}.", "", meaning]


def _unchecked_lines(record: PatientRecord) -> list[str]:
    """Said when a medication list could not be read. The card stays: a measurement is due
    treated or not (a treated patient unmeasured in a year gets one asked for too), and the
    model was built on treated and untreated adults alike; only its population (no
    antihypertensive) cannot be checked."""
    if record.treatment(DrugClass.ANTIHYPERTENSIVE) is not Treatment.UNKNOWN:
        return []
    return [
        f"Treatment could not be checked: {record.unread_medications} could not be read. If "
        "an antihypertensive is taken, the question is whether the treatment goal is met.",
        "",
    ]


def unmeasured_cards(
    record: PatientRecord,
    estimate: RiskEstimate | NoEstimate | None,
    earlier: tuple[BloodPressureReading, ...],
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """The card for an adult with no reading in 12 months, if the estimate or the earlier
    readings call for one."""
    patient = record.patient_id
    measure = measurement(patient, "No blood pressure recorded in 12 months")
    home = home_monitoring(patient, "No blood pressure recorded in 12 months (remote care)")
    orders = not_yet_accepted(history, measure, home)
    model = UNMEASURED_BLOOD_PRESSURE.name
    evidence = earlier_lines(earlier)
    all_raised = bool(earlier) and all(_raised(r) for r in earlier)
    count = len(earlier)
    raised_summary = (
        f"No BP in 12 months; the only earlier reading was {STAGE1_PRESSURE_TEXT} or higher: "
        "measure"
        if count == 1
        else f"No BP in 12 months; all {count} earlier readings were {STAGE1_PRESSURE_TEXT} or "
        "higher: measure"
    )
    if not isinstance(estimate, RiskEstimate):
        wanted = (
            []
            if estimate is None
            else [n for n in UNMEASURED_BLOOD_PRESSURE.required if n in estimate.missing]
        )
        explain = policy.explain_missing_estimate and bool(wanted)
        if not (explain or all_raised) or history.holds_back(UNMEASURED, None):
            return ()
        # A required input in the chart but too old or not usable is said so, with its date:
        # "without" only of what was never recorded.
        unusable = (
            []
            if estimate is None
            else unusable_input_lines(
                [item for item in estimate.missing_reasons if item[0] in wanted]
            )
        )
        usable = " a usable value for" if unusable else ""
        cannot = (
            " The chance that it is raised cannot be estimated without"
            f"{usable}: {missing_inputs(wanted)}."
            if wanted
            else ""
        )
        return (
            build_card(
                hook_instance=hook_instance,
                card_type=UNMEASURED,
                band=None,
                orders=orders,
                summary=raised_summary
                if all_raised
                else "No blood pressure recorded in 12 months: measure",
                indicator=Indicator.WARNING if all_raised else Indicator.INFO,
                detail="\n".join(
                    [
                        f"No blood pressure reading in the last 12 months.{cannot}",
                        *(["", *unusable] if unusable else []),
                        "",
                        *evidence,
                        *([""] if evidence else []),
                        *_unchecked_lines(record),
                    ]
                ).strip(),
                source=source(
                    "Blood pressure if measured (cdss)", TOPIC, policy.model_cards_url, model
                ),
            ),
        )
    band = policy.unmeasured_blood_pressure.band(estimate.probability)
    indicator = policy.unmeasured_blood_pressure.indicator(band)
    if all_raised and indicator is not Indicator.CRITICAL:
        indicator = Indicator.WARNING
    if indicator is None or history.holds_back(UNMEASURED, band):
        return ()
    pct = percent(estimate.probability)
    detail = [
        f"No blood pressure reading in the last 12 months. **Estimated probability that it is "
        f"{STAGE1_PRESSURE_TEXT} mmHg or higher if measured: {pct}.**"
        + (f" {NOT_USED}" if earlier else ""),
        "",
        *evidence,
        *([""] if evidence else []),
        *caveat_lines(estimate),
        *factor_lines(estimate),
        *missing_lines(estimate),
        *_unchecked_lines(record),
        *data_issue_lines(record.data_issues),
        "Built on NHANES 2017-18 adults whose blood pressure was measured at the examination "
        "(treated and untreated alike); it estimates today's blood pressure, not future risk.",
        "",
        model_card_markdown(policy.model_cards_url, model),
    ]
    estimated = f"No BP in 12 months: {pct} likely {STAGE1_PRESSURE_TEXT} or higher if measured"
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=UNMEASURED,
            band=band,
            orders=orders,
            summary=fitting_summary(
                f"{raised_summary} (the {pct} estimate ignores {'it' if count == 1 else 'them'})",
                raised_summary,
            )
            if all_raised
            else estimated,
            indicator=indicator,
            detail="\n".join(detail),
            source=source(
                "Blood pressure if measured (cdss)", TOPIC, policy.model_cards_url, model
            ),
            links=risk_links(policy, model, UNMEASURED),
        ),
    )
