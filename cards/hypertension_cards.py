"""The `hypertension-risk` service's cards, one for whichever of the answers applies.

- Readings in the hypertensive range on two or more days, no diagnosis: a detection (warning),
  suggesting confirmation out of the office and a provisional diagnosis.
- The same on a single day: repeat the measurement (info).
- No reading in 12 months: the probability of 130/80 or higher if measured, the older readings
  and what they mean, and a measurement (`hypertension_unmeasured`).
- Recent normal readings: the Framingham 4-year risk, when it is in a band the site shows.

Patients none of these fit get the cards of `hypertension_populations` (known hypertension:
treated or diagnosed; aged 13-17) or `hypertension_pregnancy` (pregnant, or within 6 weeks of a
delivery); a child under 13 gets AAP's screening table (`hypertension_children`).
"""

from __future__ import annotations

from cards.blood_pressure_parts import (
    STAGE_RANGES,
    TOPIC,
    home_monitoring,
    not_yet_accepted,
    pressure_text,
)
from cards.card_parts import (
    IssuedCard,
    SuggestedOrder,
    build_card,
    model_card_markdown,
    provisional_condition,
    risk_links,
    service_request,
    source,
)
from cards.cds_card import Indicator
from cards.explanation import data_issue_lines, factor_lines, missing_lines, percent
from cards.home_blood_pressure import home_blood_pressure_cards
from cards.hypertension_children import child_cards
from cards.hypertension_populations import (
    adolescent_cards,
    goal_cards,
    treatment_unchecked,
    unchecked_line,
)
from cards.hypertension_pregnancy import postpartum_cards, pregnancy_cards
from cards.hypertension_unmeasured import unmeasured_cards
from cards.policy import CardPolicy, FeedbackHistory
from fhir_adapters.codes import DrugClass
from fhir_adapters.patient_record import PatientRecord
from models.home_blood_pressure import HomeFinding, assess_home_blood_pressure
from models.hypertension import INCIDENCE_MODEL, Finding, HypertensionAssessment
from models.hypertension_readings import PressureSummary
from models.prediction import RiskEstimate
from models.pregnancy import recent_delivery

DETECTED = "hypertension-detected"
REPEAT = "blood-pressure-repeat"
INCIDENCE = "hypertension-incidence"
AMBULATORY_MONITORING = "ambulatory-bp-monitoring"
PROBLEM_LIST_ENTRY = "hypertension-problem-list"

SNOMED_HYPERTENSION = "38341003"
# The findings whose card, with no office reading in the year, estimates or asks for one.
_ASKS_FOR_A_READING = frozenset({Finding.UNMEASURED, Finding.TREATED, Finding.DIAGNOSED})


def hypertension_cards(
    record: PatientRecord,
    assessment: HypertensionAssessment,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """The office card for this patient's finding (at most one), then the home series' card."""
    home = assess_home_blood_pressure(record)
    office = _office_cards(record, assessment, policy, history, hook_instance)
    if home.finding is HomeFinding.HOME_ONLY and assessment.finding in _ASKS_FOR_A_READING:
        # No office reading in the year, but a proper home series: it answers what the estimate
        # would guess and what a measurement card would ask for (ACC/AHA 2017, section 4.2).
        office = ()
    # Home blood pressure (white-coat and masked hypertension): `cards.home_blood_pressure`.
    return (*office, *home_blood_pressure_cards(record, history, hook_instance, home))


def _office_cards(
    record: PatientRecord,
    assessment: HypertensionAssessment,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """The card the office readings (or their absence) call for, at most one."""
    pressure = assessment.pressure
    if assessment.finding is Finding.PREGNANT:
        return pregnancy_cards(record, assessment.in_pregnancy, hook_instance)
    if assessment.finding is Finding.POSTPARTUM:
        delivery = recent_delivery(record)
        if delivery is None:
            return ()
        return postpartum_cards(record, assessment.in_pregnancy, delivery, hook_instance)
    if assessment.finding is Finding.CHILD:
        return child_cards(record, history, hook_instance)
    if assessment.finding in (Finding.TREATED, Finding.DIAGNOSED):
        return goal_cards(record, assessment, history, hook_instance)
    if assessment.finding is Finding.ADOLESCENT:
        return adolescent_cards(record, pressure, history, hook_instance)
    if assessment.finding is Finding.DETECTED and pressure is not None:
        card_type = DETECTED if pressure.confirmed else REPEAT
        if history.holds_back(card_type, None):
            return ()
        return (_detection(record, pressure, policy, history, hook_instance),)
    if assessment.finding is Finding.UNMEASURED:
        return unmeasured_cards(
            record, assessment.estimate, assessment.earlier, policy, history, hook_instance
        )
    if assessment.finding is Finding.INCIDENCE and isinstance(assessment.estimate, RiskEstimate):
        if treatment_unchecked(record, DrugClass.ANTIHYPERTENSIVE):
            # Parikh 2008 counted treatment as hypertension: its risk is for the untreated, and
            # with a medication list unread this patient may not be. The card is a years-away
            # risk at most `info`, so none beats one that may not apply (and says nothing new).
            return ()
        return _incidence(record, assessment.estimate, pressure, policy, history, hook_instance)
    return ()


def _detection(
    record: PatientRecord,
    pressure: PressureSummary,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> IssuedCard:
    patient = record.patient_id
    stage = STAGE_RANGES[pressure.stage]
    readings = pressure.systolic.note
    reason = f"Blood pressure {pressure_text(pressure)} ({readings})"
    if not pressure.confirmed:
        return build_card(
            hook_instance=hook_instance,
            card_type=REPEAT,
            band=None,
            orders=not_yet_accepted(history, home_monitoring(patient, reason)),
            summary=f"BP {pressure_text(pressure)} on one day, in the stage {pressure.stage} "
            "range: repeat to confirm",
            indicator=Indicator.INFO,
            detail=(
                f"Readings in the last year: {readings}, all on one day, mean "
                f"{pressure_text(pressure)}: the {stage}. ACC/AHA 2017 bases a diagnosis on the "
                "mean of readings on two or more occasions; repeat on another day, or "
                "measure at home.\n\n"
                + "\n".join([*_unchecked_lines(record), *data_issue_lines(record.data_issues)])
            ).strip(),
            source=source("ACC/AHA 2017 blood pressure categories (cdss)", TOPIC),
        )
    orders = not_yet_accepted(
        history,
        home_monitoring(patient, reason),
        SuggestedOrder(
            kind=AMBULATORY_MONITORING,
            label="Arrange 24-hour ambulatory blood pressure monitoring",
            description="24-hour ambulatory blood pressure monitoring",
            resource=service_request(
                patient, "24-hour ambulatory blood pressure monitoring", reason
            ),
        ),
        SuggestedOrder(
            kind=PROBLEM_LIST_ENTRY,
            label="Add hypertension (provisional) to the problem list",
            description="Record provisional hypertension, citing the readings",
            resource=provisional_condition(
                patient,
                SNOMED_HYPERTENSION,
                "Hypertensive disorder, systemic arterial",
                pressure.systolic.sources,
            ),
        ),
    )
    detail = [
        f"Mean blood pressure {pressure_text(pressure)} ({readings}, on {pressure.occasions} days, "
        f"the latest on {pressure.systolic.effective}): the {stage}. No hypertension diagnosis "
        "is recorded.",
        "",
        *_unchecked_lines(record),
        "ACC/AHA 2017: confirm office readings out of the office (home or ambulatory "
        "monitoring) before treating, then record the diagnosis.",
        "",
        *data_issue_lines(record.data_issues),
    ]
    return build_card(
        hook_instance=hook_instance,
        card_type=DETECTED,
        band=None,
        orders=orders,
        summary=f"BP {pressure_text(pressure)} on {pressure.occasions} days, "
        "no hypertension diagnosis",
        indicator=Indicator.WARNING,
        detail="\n".join(detail).strip(),
        source=source("ACC/AHA 2017 blood pressure categories (cdss)", TOPIC),
    )


def _unchecked_lines(record: PatientRecord) -> list[str]:
    """The raised readings stand whatever is taken; if the lists could not be read the card says
    whether they were taken on treatment is not known (the warning rests on the readings)."""
    if not treatment_unchecked(record, DrugClass.ANTIHYPERTENSIVE):
        return []
    return [
        f"{unchecked_line(record)} If an antihypertensive is taken, these readings are on "
        "treatment.",
        "",
    ]


def _incidence(
    record: PatientRecord,
    estimate: RiskEstimate,
    pressure: PressureSummary | None,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    band = policy.hypertension_incidence.band(estimate.probability)
    # At most `info`: a risk years away calls for nothing urgent (`CardPolicy` holds to it).
    indicator = policy.hypertension_incidence.indicator(band)
    if indicator is None or history.holds_back(INCIDENCE, band):
        return ()
    pct = percent(estimate.probability)
    horizons = ", ".join(
        f"{years} year{'s' if years > 1 else ''}: {percent(p)}" for years, p in estimate.horizons
    )
    current = (
        ""
        if pressure is None
        else f" Recent blood pressure {pressure_text(pressure)} ({pressure.systolic.note})."
    )
    detail = [
        f"**Risk of developing hypertension: {horizons}** (Framingham, Parikh 2008).{current}",
        "",
        *factor_lines(estimate),
        *missing_lines(estimate, "Read as none; the risk may be higher."),
        *data_issue_lines(record.data_issues),
        "The equation was derived in white adults of the Framingham Offspring study without "
        "diabetes, and validated in European, US multi-ethnic and Iranian cohorts.",
        "",
        model_card_markdown(policy.model_cards_url, INCIDENCE_MODEL),
    ]
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=INCIDENCE,
            band=band,
            summary=f"Hypertension risk {band.word}: {pct} over 4 years (Framingham)",
            indicator=indicator,
            detail="\n".join(detail),
            source=source(
                "Framingham hypertension risk score (cdss)",
                TOPIC,
                policy.model_cards_url,
                INCIDENCE_MODEL,
            ),
            links=risk_links(policy, INCIDENCE_MODEL, INCIDENCE),
        ),
    )
