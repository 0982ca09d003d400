"""The `diabetes-risk` service's cards, decided from the record and the two diabetes estimates.

1. Diabetes diagnosed or treated: no card.
2. A recent HbA1c >= 6.5%, or fasting glucose >= 126 mg/dL on two days, without a diagnosis:
   "possible undiagnosed diabetes" (warning), with a provisional problem-list entry to add.
3. Prediabetes on the problem list: the question is diabetes, and the ADA advises an HbA1c
   every year; a card only when none is on record for a year, with the estimated chance of
   undiagnosed diabetes.
4. An HbA1c in the last 3 years: the laboratory has answered what the model would estimate.
   In the prediabetes range (5.7-6.4%) and not on the problem list: a card saying so; normal:
   no card (screening is due again after 3 years, USPSTF 2021).
5. Otherwise the estimated risk of undiagnosed dysglycemia, carded by band, with an HbA1c
   order and, when the risk is high, a prevention-programme referral.
6. No estimate for want of a measurement: an `info` card that names it (if the site wants it).

In pregnancy the models give no number (not their population) and HbA1c is unreliable (ADA):
no risk card, no prediabetes follow-up, and no prevention referral, which is for adults who
are not pregnant.
"""

from __future__ import annotations

from datetime import timedelta

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
from cards.explanation import (
    data_issue_lines,
    dated,
    factor_lines,
    missing_inputs,
    missing_lines,
    percent,
)
from cards.policy import Band, CardPolicy, FeedbackHistory
from fhir_adapters.codes import LOINC_HBA1C, ConditionKind, Measure
from fhir_adapters.patient_record import Measurement, PatientRecord
from models.criteria import (
    ADULT_AGE,
    DIABETES_CONFIRMING_RESULTS,
    DIABETES_RESCREEN_YEARS,
    FASTING_GLUCOSE_DIABETES,
    HBA1C_DIABETES,
    HBA1C_DYSGLYCEMIA,
    PREDIABETES_RETEST_YEARS,
)
from models.prediction import NoEstimate, RiskEstimate
from models.pregnancy import current_pregnancy
from models.risk_models import DYSGLYCEMIA, UNDIAGNOSED_DIABETES, has_diabetes

BY_LAB = "diabetes-possible-undiagnosed"
PREDIABETES_BY_LAB = "prediabetes-range-hba1c"
PREDIABETES_MONITORING = "prediabetes-monitoring"
RISK = "diabetes-risk"
NOT_ESTIMATED = "diabetes-risk-not-estimated"
HBA1C_ORDER = "hba1c-order"
PREVENTION_REFERRAL = "diabetes-prevention-referral"
PROBLEM_LIST_ENTRY = "diabetes-problem-list"
PREDIABETES_PROBLEM_LIST_ENTRY = "prediabetes-problem-list"

# An HbA1c older than the screening interval does not answer the question; with prediabetes,
# one is due every year (both in `criteria`, with their sources).
LAB_WINDOW = timedelta(days=DIABETES_RESCREEN_YEARS * 365)
PREDIABETES_RETEST = timedelta(days=PREDIABETES_RETEST_YEARS * 365)
SNOMED_DIABETES = "73211009"
SNOMED_PREDIABETES = "714628002"
TOPIC = "diabetes-screening"
LABEL = "Diabetes risk (cdss, NHANES-trained)"
POPULATION = (
    f"The estimate comes from a model built on NHANES 2017-18 adults ({ADULT_AGE} and over) "
    "without diagnosed diabetes; it describes the chance of a raised HbA1c today, not in future."
)
# How the cards state the cut-offs: "HbA1c 6.5% or higher".
DIABETES_RANGE = f"HbA1c {HBA1C_DIABETES:g}% or higher"
DYSGLYCEMIA_RANGE = f"HbA1c {HBA1C_DYSGLYCEMIA:g}% or higher"
PREDIABETES_RANGE = f"{HBA1C_DYSGLYCEMIA:g}-{HBA1C_DIABETES - 0.1:g}%"
NO_RECENT_HBA1C = f"No HbA1c in the last {DIABETES_RESCREEN_YEARS} years."


def _recent(record: PatientRecord, measure: Measure) -> list[Measurement]:
    since = record.as_of - LAB_WINDOW
    return [m for m in record.history(measure) if m.effective.date() >= since]


def _lab_evidence(record: PatientRecord) -> tuple[str, tuple[str, ...]] | None:
    """What in the chart already meets the ADA criteria for diabetes, cited; None if nothing."""
    hba1c = _recent(record, Measure.HBA1C)
    if hba1c and hba1c[0].value >= HBA1C_DIABETES:
        latest = hba1c[0]
        return f"HbA1c {dated(latest.value, '%', latest.effective.date())}", (latest.source,)
    high_days: dict[str, Measurement] = {}
    for item in _recent(record, Measure.GLUCOSE_FASTING):
        if item.value >= FASTING_GLUCOSE_DIABETES:
            high_days.setdefault(item.effective.date().isoformat(), item)
    if len(high_days) >= DIABETES_CONFIRMING_RESULTS:
        shown = list(high_days.values())[:DIABETES_CONFIRMING_RESULTS]
        text = " and ".join(dated(m.value, " mg/dL", m.effective.date(), 0) for m in shown)
        return f"fasting glucose {text}", tuple(m.source for m in shown)
    return None


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
    evidence = _lab_evidence(record)
    if evidence is not None:
        if history.holds_back(BY_LAB, None):
            return ()
        return (_by_lab_card(record, evidence, policy, hook_instance),)
    hba1c = _recent(record, Measure.HBA1C)
    if record.has_condition(ConditionKind.PREDIABETES):
        if current_pregnancy(record) is not None:
            return ()  # HbA1c is unreliable in pregnancy (ADA): no HbA1c to suggest
        return _prediabetes_monitoring(record, hba1c, undiagnosed, policy, history, hook_instance)
    if hba1c:
        if hba1c[0].value < HBA1C_DYSGLYCEMIA or history.holds_back(PREDIABETES_BY_LAB, None):
            return ()
        return (_prediabetes_by_lab(record, hba1c[0], policy, history, hook_instance),)
    if isinstance(dysglycemia, NoEstimate):
        return _not_estimated(dysglycemia, policy, history, hook_instance)
    band = policy.diabetes.band(dysglycemia.probability)
    indicator = policy.diabetes.indicator(band)
    if indicator is None or history.holds_back(RISK, band):
        return ()
    return (
        _risk_card(
            record, dysglycemia, undiagnosed, band, indicator, policy, history, hook_instance
        ),
    )


def _by_lab_card(
    record: PatientRecord,
    evidence: tuple[str, tuple[str, ...]],
    policy: CardPolicy,
    hook_instance: str,
) -> IssuedCard:
    finding, sources = evidence
    order = SuggestedOrder(
        kind=PROBLEM_LIST_ENTRY,
        label="Add diabetes (provisional) to the problem list",
        description="Record provisional diabetes mellitus, citing the result",
        resource=provisional_condition(
            record.patient_id, SNOMED_DIABETES, "Diabetes mellitus", sources
        ),
        recommended=True,
    )
    detail = [
        f"The chart holds {finding}, which meets the ADA criterion for diabetes, and no "
        "diabetes diagnosis or treatment is recorded.",
        "",
        "Confirm with a repeat test unless the clinical picture is unequivocal, then record "
        "the diagnosis.",
        "",
        *data_issue_lines(record.data_issues),
    ]
    return build_card(
        hook_instance=hook_instance,
        card_type=BY_LAB,
        band=None,
        orders=(order,),
        summary=f"Possible undiagnosed diabetes: {finding}"[:139],
        indicator=Indicator.WARNING,
        detail="\n".join(detail).strip(),
        source=source("ADA diagnostic criteria (cdss)", TOPIC),
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
    orders = []
    if HBA1C_ORDER not in history.accepted:
        orders.append(_hba1c_order(record, f"Diabetes screening: estimated risk {band.word}"))
    if band is Band.HIGH and _referral_fits(record, history):
        orders.append(
            _prevention_referral(record, "High estimated risk of prediabetes or diabetes")
        )
    pct = percent(dysglycemia.probability)
    action = ": HbA1c screening suggested" if orders and orders[0].kind == HBA1C_ORDER else ""
    also = (
        f", and {percent(undiagnosed.probability)} of undiagnosed diabetes ({DIABETES_RANGE})"
        if isinstance(undiagnosed, RiskEstimate)
        else ""
    )
    detail = [
        f"**{pct} estimated probability of undiagnosed prediabetes or diabetes** "
        f"({DYSGLYCEMIA_RANGE}){also}.",
        "",
        *factor_lines(dysglycemia),
        *missing_lines(dysglycemia, "The estimate rests on the inputs that were recorded."),
        NO_RECENT_HBA1C,
        "",
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
        summary=f"Diabetes risk {band.word} ({pct}){action}",
        indicator=indicator,
        detail="\n".join(detail),
        source=source(LABEL, TOPIC, policy.model_cards_url, DYSGLYCEMIA.name),
        links=risk_links(policy, DYSGLYCEMIA.name, RISK),
    )


def _not_estimated(
    result: NoEstimate, policy: CardPolicy, history: FeedbackHistory, hook_instance: str
) -> tuple[IssuedCard, ...]:
    # Only a missing measurement is worth a card; a child or a diagnosed patient is not.
    needs = [reason for reason in result.reasons if reason.startswith("needs ")]
    if not policy.explain_missing_estimate or len(needs) != len(result.reasons) or not needs:
        return ()
    if history.holds_back(NOT_ESTIMATED, None):
        return ()
    absent = [name for name in DYSGLYCEMIA.required if name in result.missing]
    wanted, either = missing_inputs(absent), missing_inputs(absent, "or")
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=NOT_ESTIMATED,
            band=None,
            summary=f"Diabetes risk not estimated: no {either} recorded"[:139],
            indicator=Indicator.INFO,
            detail=(
                f"An estimate of undiagnosed prediabetes or diabetes needs: {wanted}. None "
                "usable is in the chart (body measures and laboratory values older than 3 "
                "years are not used). "
                "No number is given rather than one resting on too little.\n\n"
                + POPULATION
                + "\n\n"
                + model_card_markdown(policy.model_cards_url, DYSGLYCEMIA.name)
            ),
            source=source(LABEL, TOPIC, policy.model_cards_url, DYSGLYCEMIA.name),
            links=risk_links(policy, DYSGLYCEMIA.name, NOT_ESTIMATED),
        ),
    )


def _hba1c_order(record: PatientRecord, reason: str) -> SuggestedOrder:
    return SuggestedOrder(
        kind=HBA1C_ORDER,
        label="Order an HbA1c",
        description="Order HbA1c (LOINC 4548-4)",
        resource=service_request(
            record.patient_id, "Hemoglobin A1c/Hemoglobin.total in Blood", reason, LOINC_HBA1C
        ),
        recommended=True,
    )


def _prevention_applies(record: PatientRecord) -> bool:
    """Whether a diabetes prevention programme is for this patient: adults (the programmes and
    their evidence are for adults) who are not pregnant."""
    age = record.demographics.age_years
    return (age is None or age >= ADULT_AGE) and current_pregnancy(record) is None


def _referral_fits(record: PatientRecord, history: FeedbackHistory) -> bool:
    """Whether to suggest a prevention-programme referral: it applies, and none is pending."""
    return _prevention_applies(record) and PREVENTION_REFERRAL not in history.accepted


def _prevention_referral(record: PatientRecord, reason: str) -> SuggestedOrder:
    return SuggestedOrder(
        kind=PREVENTION_REFERRAL,
        label="Refer to a diabetes prevention programme",
        description="Referral to a diabetes prevention programme",
        resource=service_request(
            record.patient_id, "Referral to a diabetes prevention programme", reason
        ),
    )


def _prediabetes_by_lab(
    record: PatientRecord,
    hba1c: Measurement,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> IssuedCard:
    result = dated(hba1c.value, "%", hba1c.effective.date())
    orders = tuple(
        order
        for order in (
            SuggestedOrder(
                kind=PREDIABETES_PROBLEM_LIST_ENTRY,
                label="Add prediabetes to the problem list",
                description="Record prediabetes, citing the result",
                resource=provisional_condition(
                    record.patient_id, SNOMED_PREDIABETES, "Prediabetes", (hba1c.source,)
                ),
                recommended=True,
            ),
            _prevention_referral(record, f"HbA1c {result}, prediabetes range"),
        )
        if order.kind not in history.accepted
        and (order.kind != PREVENTION_REFERRAL or _referral_fits(record, history))
    )
    return build_card(
        hook_instance=hook_instance,
        card_type=PREDIABETES_BY_LAB,
        band=None,
        orders=orders,
        summary=f"HbA1c {result}: prediabetes range, not on the problem list",
        indicator=Indicator.INFO,
        detail=(
            f"The chart holds HbA1c {result}, in the prediabetes range ({PREDIABETES_RANGE}, ADA), "
            "and no prediabetes or diabetes diagnosis. The ADA advises an HbA1c every year"
            + (" and referral to a prevention programme" if _prevention_applies(record) else "")
            + ".\n\n"
            + "\n".join(data_issue_lines(record.data_issues))
        ).strip(),
        source=source("ADA diagnostic criteria (cdss)", TOPIC),
    )


def _prediabetes_monitoring(
    record: PatientRecord,
    hba1c: list[Measurement],
    undiagnosed: RiskEstimate | NoEstimate,
    policy: CardPolicy,
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    if hba1c and hba1c[0].effective.date() >= record.as_of - PREDIABETES_RETEST:
        return ()
    if history.holds_back(PREDIABETES_MONITORING, None):
        return ()
    last = (
        f"The last HbA1c was {dated(hba1c[0].value, '%', hba1c[0].effective.date())}."
        if hba1c
        else NO_RECENT_HBA1C
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
            *factor_lines(undiagnosed),
            *missing_lines(undiagnosed, "The estimate rests on the inputs that were recorded."),
        ]
    detail += [
        *data_issue_lines(record.data_issues),
        POPULATION,
        "",
        model_card_markdown(policy.model_cards_url, UNDIAGNOSED_DIABETES.name),
    ]
    orders = () if HBA1C_ORDER in history.accepted else (_hba1c_order(record, "Prediabetes"),)
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=PREDIABETES_MONITORING,
            band=None,
            orders=orders,
            summary=f"Prediabetes, no HbA1c in a year{chance}: HbA1c suggested",
            indicator=Indicator.INFO,
            detail="\n".join(detail),
            source=source(LABEL, TOPIC, policy.model_cards_url, UNDIAGNOSED_DIABETES.name),
            links=risk_links(policy, UNDIAGNOSED_DIABETES.name, PREDIABETES_MONITORING),
        ),
    )
