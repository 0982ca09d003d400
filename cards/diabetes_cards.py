"""The `diabetes-risk` service's cards, decided from the record and the two diabetes estimates.

1. Diabetes diagnosed or treated: no card.
2. The last 3 years' laboratory results, read by the ADA 2025 criteria (`diabetes_labs`):
   two abnormal results meet the criteria; one is "diabetes range, not confirmed" with the
   confirmatory tests; a glucose of 200 or more, or of 126 or more whose fasting status is
   unknown, asks for a test that decides.
3. Prediabetes on the problem list: the question is diabetes, and the ADA advises a test every
   year; a card only when no HbA1c is on record for a year, with the estimated chance of
   undiagnosed diabetes.
4. The latest HbA1c or fasting glucose in the prediabetes range, not on the problem list: a card
   saying so (`diabetes_labs`); normal: no card (screening is due again after 3 years, USPSTF).
5. Otherwise the estimated chance of undiagnosed prediabetes or diabetes (HbA1c 5.7% or more),
   carded by band, with an HbA1c order where a screening recommendation covers the patient
   (naming it) and, when the chance is high, a prevention-programme referral where USPSTF 2021
   advises one (`diabetes_screening`). Above 80 the age is given to the model as 80, as its
   NHANES data recorded everyone 80 and over, and the card says so.
6. No estimate for want of a measurement: an `info` card that names it (if the site wants it).

With a medication list unread (metformin or insulin not ruled out) only 2 and 3 remain, 2
saying that treatment could not be checked: 4 to 6 are for people without diabetes.

In pregnancy the models give no number (not their population) and HbA1c is unreliable (ADA):
no risk card, no prediabetes follow-up, and no prevention referral.
"""

from __future__ import annotations

from cards.card_parts import (
    IssuedCard,
    build_card,
    fitting_summary,
    model_card_markdown,
    risk_links,
    source,
)
from cards.cds_card import Indicator
from cards.diabetes_labs import lab_card
from cards.diabetes_results import Finding, read_results, recent, shown_value
from cards.diabetes_screening import (
    HBA1C_ORDER,
    PREVENTION_REFERRAL,
    hba1c_order,
    prevention_referral,
    screening_basis,
)
from cards.explanation import (
    caveat_lines,
    data_issue_lines,
    factor_lines,
    missing_inputs,
    missing_lines,
    percent,
    unusable_input_lines,
)
from cards.policy import Band, CardPolicy, FeedbackHistory
from fhir_adapters.codes import ConditionKind, DrugClass, Measure
from fhir_adapters.patient_record import PatientRecord, Treatment
from models.criteria import (
    ADULT_AGE,
    DIABETES_RESCREEN_YEARS,
    HBA1C_DIABETES,
    HBA1C_DYSGLYCEMIA,
    PREDIABETES_RETEST_YEARS,
)
from models.prediction import NoEstimate, RiskEstimate
from models.pregnancy import hba1c_unreliable
from models.risk_models import DYSGLYCEMIA, UNDIAGNOSED_DIABETES, has_diabetes

PREDIABETES_MONITORING = "prediabetes-monitoring"
RISK = "diabetes-risk"
NOT_ESTIMATED = "diabetes-risk-not-estimated"

LABEL = "Diabetes risk (cdss, NHANES-trained)"
TOPIC = "diabetes-screening"
POPULATION = (
    f"The estimate comes from a model built on NHANES 2017-18 adults ({ADULT_AGE} and over) "
    "without diagnosed diabetes; it describes the chance of a raised HbA1c today, not in future."
)
# How the cards state the cut-offs: "HbA1c 6.5% or higher".
DIABETES_RANGE = f"HbA1c {HBA1C_DIABETES:g}% or higher"
DYSGLYCEMIA_RANGE = f"HbA1c {HBA1C_DYSGLYCEMIA:g}% or higher"
NO_RECENT_TEST = f"No HbA1c or fasting glucose in the last {DIABETES_RESCREEN_YEARS} years."
ORDERED = "An HbA1c was ordered from an earlier card: its result is awaited."
# The retest interval with prediabetes (ADA), in days.
PREDIABETES_RETEST_DAYS = PREDIABETES_RETEST_YEARS * 365


def diabetes_cards(
    record: PatientRecord,
    dysglycemia: RiskEstimate | NoEstimate,
    undiagnosed: RiskEstimate | NoEstimate,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """The cards for this patient (at most one)."""
    if has_diabetes(record):
        return ()
    finding = read_results(record)
    if finding is not None and finding.finding not in (Finding.PREDIABETES_RANGE, Finding.NORMAL):
        # A result in the diabetes range stands whatever is taken (ADA 2025, section 2): the
        # card is shown, saying if treatment could not be checked.
        card = lab_card(record, finding, history, hook_instance)
        return () if card is None else (card,)
    if record.has_condition(ConditionKind.PREDIABETES):
        if hba1c_unreliable(record):
            return ()  # in pregnancy and postpartum HbA1c is unreliable (ADA): none to suggest
        # A yearly HbA1c is due with prediabetes, on metformin or not.
        return _prediabetes_monitoring(record, undiagnosed, policy, history, hook_instance)
    if record.treatment(DrugClass.ANTIDIABETIC) is Treatment.UNKNOWN:
        # A medication list could not be read, so metformin or insulin cannot be ruled out, and
        # what follows is only for people without diabetes: a prediabetes-range result on a
        # glucose-lowering drug may be treated diabetes (ADA 2025 defines prediabetes in people
        # without it), and USPSTF 2021 and ADA 2025 screen, and the NHANES models estimate, only
        # people without known diabetes (the training data counted the treated as diagnosed).
        # No card: a screening suggestion is never urgent, and is made once the lists are read.
        return ()
    if finding is not None:
        card = lab_card(record, finding, history, hook_instance)
        return () if card is None else (card,)
    if isinstance(dysglycemia, NoEstimate):
        return _not_estimated(record, dysglycemia, policy, history, hook_instance)
    band = policy.diabetes.band(dysglycemia.probability)
    indicator = policy.diabetes.indicator(band)
    if indicator is None or history.holds_back(RISK, band):
        return ()
    return (
        _risk_card(
            record, dysglycemia, undiagnosed, band, indicator, policy, history, hook_instance
        ),
    )


def _risk_card(
    record: PatientRecord,
    dysglycemia: RiskEstimate,
    undiagnosed: RiskEstimate | NoEstimate,
    band: Band,
    indicator: Indicator,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> IssuedCard:
    basis = screening_basis(record)
    orders = []
    if basis.recommendation is not None and HBA1C_ORDER not in history.accepted:
        orders.append(
            hba1c_order(record, f"Diabetes screening, {basis.recommendation.split(' (')[0]}")
        )
    referral = band is Band.HIGH and basis.refer and PREVENTION_REFERRAL not in history.accepted
    if referral:
        orders.append(
            prevention_referral(record, "High estimated chance of prediabetes or diabetes")
        )
    pct = percent(dysglycemia.probability)
    if HBA1C_ORDER in history.accepted:
        action, screening = ": HbA1c ordered, result awaited", ORDERED
    elif basis.recommendation is not None:
        action = ": HbA1c screening suggested"
        screening = f"The HbA1c suggestion follows {basis.recommendation}."
    else:
        action = ""
        screening = (
            "No screening is suggested: neither USPSTF 2021 (adults 35-70 with overweight or "
            "obesity) nor ADA 2025 (everyone from 35; younger adults with overweight or obesity "
            "and a risk factor) covers this patient on what the chart records."
        )
    also = (
        f", and {percent(undiagnosed.probability)} of undiagnosed diabetes alone ({DIABETES_RANGE})"
        if isinstance(undiagnosed, RiskEstimate)
        else ""
    )
    detail = [
        f"**{pct} estimated probability of undiagnosed prediabetes or diabetes** "
        f"({DYSGLYCEMIA_RANGE}: the two together){also}.",
        "",
        *caveat_lines(dysglycemia),
        *factor_lines(dysglycemia),
        *missing_lines(dysglycemia),
        NO_RECENT_TEST,
        "",
        screening,
        "",
        *([basis.referral_words, ""] if band is Band.HIGH and basis.referral_words else []),
        *data_issue_lines(record.data_issues),
        POPULATION,
        "",
        model_card_markdown(policy.model_cards_url, DYSGLYCEMIA.name),
    ]
    return build_card(
        hook_instance=hook_instance,
        card_type=RISK,
        band=band,
        orders=tuple(orders),
        summary=fitting_summary(
            f"Estimated {pct} chance of prediabetes or diabetes ({band.word}){action}",
            f"Estimated {pct} chance of prediabetes or diabetes ({band.word})",
        ),
        indicator=indicator,
        detail="\n".join(detail),
        source=source(LABEL, TOPIC, policy.model_cards_url, DYSGLYCEMIA.name),
        links=risk_links(policy, DYSGLYCEMIA.name, RISK),
    )


def _not_estimated(
    record: PatientRecord,
    result: NoEstimate,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    # Only a missing measurement is worth a card; a child or a diagnosed patient is not.
    needs = [reason for reason in result.reasons if reason.startswith("needs ")]
    if not policy.explain_missing_estimate or len(needs) != len(result.reasons) or not needs:
        return ()
    if history.holds_back(NOT_ESTIMATED, None):
        return ()
    absent = [name for name in DYSGLYCEMIA.required if name in result.missing]
    wanted, either = missing_inputs(absent), missing_inputs(absent, "or")
    # A required input that is in the chart but too old or not usable is said so, with its
    # date: "not recorded" only for what was never recorded.
    unusable = unusable_input_lines([item for item in result.missing_reasons if item[0] in absent])
    summary = (
        (f"Diabetes risk not estimated: no usable {either}",
         "Diabetes risk not estimated: a required input is not usable")
        if unusable
        else (f"Diabetes risk not estimated: no {either} recorded",
              "Diabetes risk not estimated: a required input is not recorded")
    )  # fmt: skip
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=NOT_ESTIMATED,
            band=None,
            summary=fitting_summary(*summary),
            indicator=Indicator.INFO,
            # What was in the chart but not used (a BMI in an unknown unit, a result not
            # linked to this patient) says why an input counts as not recorded.
            detail="\n".join(
                [
                    f"An estimate of undiagnosed prediabetes or diabetes needs: {wanted}. None "
                    "usable is in the chart (body measures and laboratory values older than 3 "
                    "years are not used). "
                    "No number is given rather than one resting on too little.",
                    "",
                    *([*unusable, ""] if unusable else []),
                    *data_issue_lines(record.data_issues),
                    POPULATION,
                    "",
                    model_card_markdown(policy.model_cards_url, DYSGLYCEMIA.name),
                ]
            ),
            source=source(LABEL, TOPIC, policy.model_cards_url, DYSGLYCEMIA.name),
            links=risk_links(policy, DYSGLYCEMIA.name, NOT_ESTIMATED),
        ),
    )


def _prediabetes_monitoring(
    record: PatientRecord,
    undiagnosed: RiskEstimate | NoEstimate,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    hba1c = recent(record, Measure.HBA1C)
    if hba1c and (record.as_of - hba1c[0].effective.date()).days <= PREDIABETES_RETEST_DAYS:
        return ()
    if history.holds_back(PREDIABETES_MONITORING, None):
        return ()
    last = (
        f"The last HbA1c was {shown_value(hba1c[0])} on {hba1c[0].effective.date().isoformat()}."
        if hba1c
        else "No HbA1c in 3 years."
    )
    chance = ""
    detail = [f"Prediabetes is on the problem list. {last} The ADA advises an HbA1c every year."]
    if isinstance(undiagnosed, RiskEstimate):
        chance = f" ({percent(undiagnosed.probability)} chance of diabetes)"
        detail += [
            "",
            f"**{percent(undiagnosed.probability)} estimated probability of undiagnosed "
            f"diabetes** ({DIABETES_RANGE}).",
            "",
            *caveat_lines(undiagnosed),
            *factor_lines(undiagnosed),
            *missing_lines(undiagnosed),
        ]
    ordered = HBA1C_ORDER in history.accepted
    if ordered:
        detail += ["", ORDERED, ""]
    detail += [
        *data_issue_lines(record.data_issues),
        POPULATION,
        "",
        model_card_markdown(policy.model_cards_url, UNDIAGNOSED_DIABETES.name),
    ]
    orders = () if ordered else (hba1c_order(record, "Prediabetes"),)
    action = ": HbA1c ordered, result awaited" if ordered else ": HbA1c suggested"
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=PREDIABETES_MONITORING,
            band=None,
            orders=orders,
            summary=f"Prediabetes, no HbA1c in a year{chance}{action}",
            indicator=Indicator.INFO,
            detail="\n".join(detail),
            source=source(LABEL, TOPIC, policy.model_cards_url, UNDIAGNOSED_DIABETES.name),
            links=risk_links(policy, UNDIAGNOSED_DIABETES.name, PREDIABETES_MONITORING),
        ),
    )
