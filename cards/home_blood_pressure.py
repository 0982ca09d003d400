"""The `hypertension-risk` card for a home blood pressure series (`models.home_blood_pressure`).

One card at most, shown beside the hypertension card, when the home series says something the
office readings do not (ACC/AHA 2017, section 4.2, Figures 2 and 3):

- white-coat hypertension (office 130/80 or more, home below): info, no suggestion;
- masked hypertension (office below, home 130/80 or more): warning, ambulatory monitoring;
- sustained (home confirms office, no diagnosis): warning;
- with known hypertension (treated, naming the drug(s), or diagnosed): the white-coat effect
  (info), masked uncontrolled hypertension (warning), or home confirming the office above the
  130/80 goal (warning);
- home readings only, 130/80 or more: an office measurement;
- readings that are not yet a series: what the series still needs (info).

Children and pregnancy get none (the model says why).
"""

from __future__ import annotations

from cards.blood_pressure_parts import TOPIC, measurement, mmhg, not_yet_accepted
from cards.card_parts import (
    IssuedCard,
    SuggestedOrder,
    build_card,
    fitting_summary,
    service_request,
    source,
)
from cards.cds_card import Indicator
from cards.explanation import data_issue_lines
from cards.hypertension_populations import (
    ASSUMPTION,
    antihypertensives,
    treatment_unchecked,
    unchecked_line,
)
from cards.policy import FeedbackHistory
from fhir_adapters.codes import DrugClass
from fhir_adapters.patient_record import PatientRecord
from models.criteria import (
    HOME_SERIES_DAYS,
    HOME_SERIES_MIN_DAYS,
    HOME_SERIES_MIN_READINGS,
    HOME_STAGE1_DIASTOLIC,
    HOME_STAGE1_SYSTOLIC,
    HOME_STAGE2_DIASTOLIC,
    HOME_STAGE2_SYSTOLIC,
    STAGE1_PRESSURE_TEXT,
    STAGE2_DIASTOLIC,
    STAGE2_SYSTOLIC,
    TREATED_GOAL_TEXT,
    BloodPressureCategory,
)
from models.home_blood_pressure import (
    HomeAssessment,
    HomeFinding,
    HomeSeries,
    MeanPressure,
    assess_home_blood_pressure,
)

CARD_PREFIX = "home-bp-"
AMBULATORY_CONFIRMATION = "home-bp-ambulatory-confirmation"
GUIDELINE = "ACC/AHA 2017 home blood pressure monitoring (cdss)"
HOME_130_80 = f"{HOME_STAGE1_SYSTOLIC:g}/{HOME_STAGE1_DIASTOLIC:g}"
HOME_135_85 = f"{HOME_STAGE2_SYSTOLIC:g}/{HOME_STAGE2_DIASTOLIC:g}"
OFFICE_140_90 = f"{STAGE2_SYSTOLIC:g}/{STAGE2_DIASTOLIC:g}"
# Home means as the office categories they correspond to (ACC/AHA 2017, Table 11).
CORRESPONDS_TO = {
    BloodPressureCategory.NORMAL: "normal office range",
    BloodPressureCategory.ELEVATED: "office elevated range",
    BloodPressureCategory.STAGE_1: "office stage 1 range",
    BloodPressureCategory.STAGE_2: "office stage 2 range",
}
PROTOCOL = (
    "ACC/AHA 2017 (Table 12): at least 2 readings 1 minute apart each morning and each "
    f"evening over a week, averaged. The service reads the latest {HOME_SERIES_DAYS} days of "
    "home readings, leaves out the first day of monitoring (its readings run high), and needs "
    f"at least {HOME_SERIES_MIN_READINGS} readings on {HOME_SERIES_MIN_DAYS} days, mornings "
    "and evenings (ESH home monitoring guideline, Parati 2010)."
)


def card_type(finding: HomeFinding) -> str:
    """The card type of a finding: "home-bp-white-coat", ..."""
    return CARD_PREFIX + finding.value


def mean_text(mean: MeanPressure) -> str:
    """A mean as a card writes it, "124/76 mmHg", never rounded across a cut-off (item 5)."""
    return f"{mmhg(mean.systolic, mean.diastolic)} mmHg"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def series_line(series: HomeSeries) -> str:
    """The home series in one sentence: its mean, size, span, and what was left out."""
    mean = series.mean
    left_out = (
        f"; the first day of monitoring ({series.discarded_day}, {series.discarded_readings} "
        "reading" + ("s" if series.discarded_readings > 1 else "") + ") left out"
        if series.discarded_day is not None
        else ""
    )
    return (
        f"Home: mean {mean_text(mean)} from {mean.readings} readings on {_days(mean.days)} "
        f"({mean.first_day} to {mean.last_day}; {series.morning_readings} morning, "
        f"{series.evening_readings} evening){left_out}."
    )


def office_line(office: MeanPressure) -> str:
    """The office mean in one sentence."""
    return (
        f"Office: mean {mean_text(office)} from {office.readings} reading"
        f"{'s' if office.readings > 1 else ''} on {_days(office.days)} in the last year "
        f"({office.first_day} to {office.last_day})."
    )


def _named(record: PatientRecord) -> str:
    names = [item.ingredient for item in antihypertensives(record)]
    if len(names) > 2:
        return f"{names[0]} and {len(names) - 1} others"
    return " and ".join(names)


def home_blood_pressure_cards(
    record: PatientRecord,
    history: FeedbackHistory,
    hook_instance: str,
    assessment: HomeAssessment | None = None,
) -> tuple[IssuedCard, ...]:
    """The home series' card for this patient, if it says something (at most one)."""
    assessment = assessment or assess_home_blood_pressure(record)
    series, office = assessment.series, assessment.office
    if series is None or history.holds_back(card_type(assessment.finding), None):
        return ()
    if assessment.finding is HomeFinding.INCOMPLETE:
        return (_incomplete(record, series, hook_instance),)
    words = _WORDING.get(assessment.finding)
    home_only = assessment.finding is HomeFinding.HOME_ONLY
    if words is None or (home_only and not series.at_or_above_130_80):
        return ()
    summary, indicator, reading = words
    named = f"On {_named(record)}" if assessment.treated else "Hypertension diagnosed"
    if home_only and assessment.known_hypertension:
        summary = "{named}: " + summary
    home, shown_office = mean_text(series.mean), mean_text(office) if office else ""
    detail = [
        series_line(series),
        *([office_line(office)] if office else []),
        "",
        f"The home mean corresponds to the {CORRESPONDS_TO[series.category]} (ACC/AHA 2017, "
        f"Table 11: home {HOME_130_80} = office {STAGE1_PRESSURE_TEXT}, home {HOME_135_85} = "
        f"office {OFFICE_140_90}).",
        "",
        reading.format(goal=TREATED_GOAL_TEXT, cut=STAGE1_PRESSURE_TEXT),
        "",
        *([f"{named}. {ASSUMPTION}", ""] if assessment.treated else []),
        # With a medication list unread the readings may be on treatment: said, never "none".
        *(
            [unchecked_line(record), ""]
            if treatment_unchecked(record, DrugClass.ANTIHYPERTENSIVE)
            else ["Hypertension is diagnosed; no antihypertensive is on record.", ""]
            if assessment.diagnosed and not assessment.treated
            else []
        ),
        PROTOCOL,
        "",
        *data_issue_lines(record.data_issues),
    ]
    orders = _orders(record, assessment, history)
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=card_type(assessment.finding),
            band=None,
            orders=orders,
            summary=fitting_summary(
                *(
                    summary.format(
                        home=home,
                        office=shown_office,
                        named=name,
                        goal=TREATED_GOAL_TEXT,
                        cut=HOME_130_80,
                    )
                    # The drugs named, else "On treatment": fewer names, never a cut word.
                    for name in (named, "On treatment" if assessment.treated else named)
                )
            ),
            indicator=indicator,
            detail="\n".join(detail).strip(),
            source=source(GUIDELINE, TOPIC),
        ),
    )


def _orders(
    record: PatientRecord, assessment: HomeAssessment, history: FeedbackHistory
) -> tuple[SuggestedOrder, ...]:
    reason = f"Home blood pressure {mean_text(assessment.series.mean) if assessment.series else ''}"
    if assessment.finding in (HomeFinding.MASKED, HomeFinding.MASKED_UNCONTROLLED):
        ambulatory = SuggestedOrder(
            kind=AMBULATORY_CONFIRMATION,
            label="Confirm with 24-hour ambulatory blood pressure monitoring",
            description="24-hour ambulatory blood pressure monitoring",
            resource=service_request(
                record.patient_id,
                "24-hour ambulatory blood pressure monitoring",
                f"{reason} with office readings below {STAGE1_PRESSURE_TEXT}: masked hypertension",
            ),
        )
        return not_yet_accepted(history, ambulatory)
    if assessment.finding is HomeFinding.HOME_ONLY:
        return not_yet_accepted(
            history, measurement(record.patient_id, f"{reason}; no office reading in 12 months")
        )
    return ()


def _incomplete(record: PatientRecord, series: HomeSeries, hook_instance: str) -> IssuedCard:
    mean = series.mean
    needs = ", ".join(series.missing)
    detail = [
        series_line(series),
        "",
        f"Not yet a series: it needs {needs}. The mean so far, {mean_text(mean)}, is not read "
        f"against {HOME_130_80} until it is.",
        "",
        PROTOCOL,
        "",
        *data_issue_lines(record.data_issues),
    ]
    return build_card(
        hook_instance=hook_instance,
        card_type=card_type(HomeFinding.INCOMPLETE),
        band=None,
        summary=fitting_summary(
            f"Home BP: {mean.readings} readings on {_days(mean.days)}, not yet a series: "
            f"needs {needs}",
            f"Home BP: {mean.readings} readings on {_days(mean.days)}, not yet a series",
        ),
        indicator=Indicator.INFO,
        detail="\n".join(detail).strip(),
        source=source(GUIDELINE, TOPIC),
    )


# finding -> (summary, indicator, what ACC/AHA 2017 makes of it); {home}, {office}, {named},
# {goal} and {cut} are filled in.
_WORDING: dict[HomeFinding, tuple[str, Indicator, str]] = {
    HomeFinding.WHITE_COAT: (
        "Home BP {home} below {cut}, office {office}: white-coat hypertension (ACC/AHA 2017)",
        Indicator.INFO,
        "ACC/AHA 2017 (section 4.2, Figure 2): an office mean of {cut} or more with a home mean "
        "below {cut} is white-coat hypertension. Medication is not started on the office "
        "readings alone; advise lifestyle measures and repeat home or ambulatory monitoring "
        "yearly to detect a change to sustained hypertension.",
    ),
    HomeFinding.MASKED: (
        "Home BP {home} at or above {cut}, office {office}: masked hypertension (ACC/AHA 2017)",
        Indicator.WARNING,
        "ACC/AHA 2017 (section 4.2, Figure 2): an office mean below {cut} with a home mean of "
        "{cut} or more is masked hypertension, whose cardiovascular risk is close to that of "
        "sustained hypertension. Confirm it (24-hour ambulatory monitoring is the reference) "
        "before deciding on treatment.",
    ),
    HomeFinding.SUSTAINED: (
        "Home BP {home} confirms office {office}: sustained hypertension, no diagnosis",
        Indicator.WARNING,
        "ACC/AHA 2017 (section 4.2): office readings of {cut} or more are confirmed out of the "
        "office before diagnosis and treatment; this home series confirms them (sustained "
        "hypertension, not white-coat). No hypertension diagnosis is recorded.",
    ),
    HomeFinding.WHITE_COAT_EFFECT: (
        "{named}: home BP {home} at goal, office {office}: white-coat effect",
        Indicator.INFO,
        "ACC/AHA 2017 (section 4.2, Figure 3): on treatment, an office mean above the {goal} "
        "goal with a home mean below it is a white-coat effect: the home readings show the "
        "goal met. Do not start or intensify treatment on the office readings alone; ambulatory "
        "monitoring settles a doubt.",
    ),
    HomeFinding.MASKED_UNCONTROLLED: (
        "{named}: home BP {home} above goal, office {office}: masked uncontrolled hypertension",
        Indicator.WARNING,
        "ACC/AHA 2017 (section 4.2, Figure 3): on treatment, an office mean below the {goal} "
        "goal with a home mean of {goal} or more is masked uncontrolled hypertension. Confirm "
        "it (ambulatory monitoring), then review treatment: adherence, dose or an added agent.",
    ),
    HomeFinding.UNCONTROLLED: (
        "{named}: home BP {home} confirms office {office} above the {goal} goal",
        Indicator.WARNING,
        "ACC/AHA 2017: the goal for most adults with hypertension is below {goal}; home and "
        "office "
        "readings agree that it is not met. Review adherence, dose or an added agent.",
    ),
    HomeFinding.HOME_ONLY: (
        "Home BP {home}, {cut} or more at home; no office reading in 12 months",
        Indicator.INFO,
        "ACC/AHA 2017 (Table 11): a home mean of {cut} or more corresponds to an office mean "
        "of {cut} or more (above the {goal} goal, on treatment). Measure in the office too: "
        "white-coat and masked hypertension are read from the two side by side.",
    ),
}
