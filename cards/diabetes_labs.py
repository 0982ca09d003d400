"""The `diabetes-risk` cards the laboratory decides, by the ADA 2025 criteria (section 2).

- Two abnormal results (HbA1c 6.5% or more twice, HbA1c with fasting glucose 126 mg/dL or more,
  or fasting glucose 126 or more on two days): "meets ADA criteria", a warning with a
  provisional problem-list entry citing both results.
- One such result and no second: "diabetes range, not confirmed", a warning saying what
  confirms, with the confirmatory tests as suggestions (one result is not a diagnosis without
  unequivocal hyperglycaemia).
- A glucose of 200 mg/dL or more without a fasting status: diabetes only with classic symptoms,
  which the service cannot see; a warning asking for confirmatory testing.
- A glucose of 126 or more whose fasting status is unknown (LOINC 2345-7, 2339-0): not a fasting
  glucose; an `info` card suggesting a fasting glucose or an HbA1c.
- The latest HbA1c (5.7-6.4%) or fasting glucose (100-125) in the prediabetes range, prediabetes
  not on the problem list: an `info` card, prediabetes to add, and a prevention-programme
  referral where USPSTF 2021 advises one.

Results are shown as reported with the converted value beside them, never rounded across a
cut-off (`diabetes_results`).
"""

from __future__ import annotations

from dataclasses import replace

from cards.card_parts import (
    IssuedCard,
    SuggestedOrder,
    build_card,
    fitting_summary,
    provisional_condition,
    source,
)
from cards.cds_card import Indicator
from cards.diabetes_results import Finding, LabFinding, shown_result, shown_value, test_name
from cards.diabetes_screening import (
    PREVENTION_REFERRAL,
    confirmatory_orders,
    fasting_glucose_order,
    hba1c_order,
    pending_test,
    prevention_referral,
    screening_basis,
    suggested_tests,
    unless_ordered,
)
from cards.explanation import data_issue_lines
from cards.policy import FeedbackHistory
from fhir_adapters.codes import DrugClass, Measure
from fhir_adapters.patient_record import PatientRecord, Treatment
from models.criteria import (
    FASTING_GLUCOSE_DIABETES,
    FASTING_GLUCOSE_DYSGLYCEMIA,
    HBA1C_DIABETES,
    HBA1C_DYSGLYCEMIA,
    RANDOM_GLUCOSE_DIABETES,
)
from models.pregnancy import current_pregnancy

MEETS_CRITERIA = "diabetes-possible-undiagnosed"
UNCONFIRMED = "diabetes-range-unconfirmed"
GLUCOSE_200_OR_MORE = "glucose-200-or-more"
GLUCOSE_UNKNOWN_FASTING = "glucose-unknown-fasting"
PREDIABETES_BY_HBA1C = "prediabetes-range-hba1c"
PREDIABETES_BY_FASTING_GLUCOSE = "prediabetes-range-fasting-glucose"
PROBLEM_LIST_ENTRY = "diabetes-problem-list"
PREDIABETES_PROBLEM_LIST_ENTRY = "prediabetes-problem-list"
SNOMED_DIABETES = "73211009"
SNOMED_PREDIABETES = "714628002"
TOPIC = "diabetes-screening"
ADA_SOURCE = "ADA Standards of Care 2025, section 2: diagnosis (cdss)"

DIABETES_RANGE = (
    f"HbA1c {HBA1C_DIABETES:g}% or more, or fasting plasma glucose "
    f"{FASTING_GLUCOSE_DIABETES:g} mg/dL or more"
)
PREDIABETES_RANGE = {
    Measure.HBA1C: f"{HBA1C_DYSGLYCEMIA:g}% to below {HBA1C_DIABETES:g}%",
    Measure.GLUCOSE_FASTING: (
        f"{FASTING_GLUCOSE_DYSGLYCEMIA:g} to below {FASTING_GLUCOSE_DIABETES:g} mg/dL"
    ),
}
TWO_RESULTS_RULE = (
    "Without unequivocal hyperglycaemia (classic symptoms with a random glucose of "
    f"{RANDOM_GLUCOSE_DIABETES:g} mg/dL or more, or a hyperglycaemic crisis) the ADA (2025, "
    "section 2) requires two abnormal results, from the same sample or two separate samples."
)
CONFIRMS = (
    f"What confirms: a repeat HbA1c of {HBA1C_DIABETES:g}% or more, a fasting plasma glucose of "
    f"{FASTING_GLUCOSE_DIABETES:g} mg/dL or more, or both abnormal in the same sample. If the "
    "second result is below its cut-off, the ADA advises repeating the abnormal test."
)
_CONVERSION = (
    "An IFCC HbA1c (mmol/mol) is shown as the laboratory reported it, with the NGSP % by the "
    "IFCC-NGSP master equation beside it; the cut-offs are compared on the converted value."
)


_IN_PREGNANCY = (
    "In pregnancy HbA1c is unreliable (ADA 2025): only a fasting glucose is suggested. "
    "Gestational diabetes is tested otherwise (ADA 2025, section 15): the obstetric team decides."
)


def lab_card(
    record: PatientRecord,
    finding: LabFinding,
    history: FeedbackHistory,
    hook_instance: str,
) -> IssuedCard | None:
    """The card for a laboratory finding; None for a normal result or one held back."""
    builders = {
        Finding.MEETS_CRITERIA: (MEETS_CRITERIA, _meets_criteria),
        Finding.UNCONFIRMED: (UNCONFIRMED, _unconfirmed),
        Finding.GLUCOSE_200_OR_MORE: (GLUCOSE_200_OR_MORE, _glucose_200_or_more),
        Finding.GLUCOSE_UNKNOWN_FASTING: (GLUCOSE_UNKNOWN_FASTING, _unknown_fasting),
    }
    if finding.finding is Finding.PREDIABETES_RANGE:
        card_type = (
            PREDIABETES_BY_HBA1C
            if finding.results[0].measure is Measure.HBA1C
            else PREDIABETES_BY_FASTING_GLUCOSE
        )
        if history.holds_back(card_type, None):
            return None
        return _prediabetes_range(record, finding, card_type, history, hook_instance)
    if finding.finding not in builders:
        return None
    card_type, builder = builders[finding.finding]
    if history.holds_back(card_type, None):
        return None
    return builder(record, finding, history, hook_instance)


def _detail(*paragraphs: str, record: PatientRecord, converted: bool) -> str:
    lines = [p for p in paragraphs if p]
    if current_pregnancy(record) is not None:
        lines.append(_IN_PREGNANCY)
    if converted:
        lines.append(_CONVERSION)
    text = "\n\n".join(lines)
    issues = "\n".join(data_issue_lines(record.data_issues)).strip()
    return f"{text}\n\n{issues}" if issues else text


def _no_diabetes(record: PatientRecord) -> str:
    """ "no diabetes diagnosis or treatment"; with a medication list unread, nothing is said of
    treatment but that it could not be checked (the result stands either way, ADA 2025)."""
    if record.treatment(DrugClass.ANTIDIABETIC) is Treatment.UNKNOWN:
        return (
            "no diabetes diagnosis; treatment could not be checked "
            f"({record.unread_medications} could not be read)"
        )
    return "no diabetes diagnosis or treatment"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _meets_criteria(
    record: PatientRecord, finding: LabFinding, history: FeedbackHistory, hook_instance: str
) -> IssuedCard:
    shown = " and ".join(shown_result(item) for item in finding.results)
    orders = tuple(
        order
        for order in (
            SuggestedOrder(
                kind=PROBLEM_LIST_ENTRY,
                label="Add diabetes (provisional) to the problem list",
                description="Record provisional diabetes mellitus, citing the results",
                resource=provisional_condition(
                    record.patient_id, SNOMED_DIABETES, "Diabetes mellitus", finding.sources
                ),
                recommended=True,
            ),
        )
        if order.kind not in history.accepted
    )
    detail = _detail(
        f"The chart holds {shown}: two results in the diabetes range ({DIABETES_RANGE}), which "
        "meets the ADA criteria for diabetes (2025, section 2: two abnormal results, from the "
        "same sample or two separate samples). "
        + (
            "No diabetes diagnosis or treatment is recorded."
            if record.treatment(DrugClass.ANTIDIABETIC) is not Treatment.UNKNOWN
            else f"{_sentence(_no_diabetes(record))}."
        ),
        "Review the results and record the diagnosis.",
        record=record,
        converted=any(item.converted for item in finding.results),
    )
    return build_card(
        hook_instance=hook_instance,
        card_type=MEETS_CRITERIA,
        band=None,
        orders=orders,
        summary=fitting_summary(
            f"Meets ADA criteria for diabetes, no diagnosis: {shown}",
            f"Meets ADA criteria for diabetes, no diagnosis: {shown_result(finding.results[0])} "
            "and one more",
            "Meets ADA criteria for diabetes (2 abnormal results), no diagnosis recorded",
        ),
        indicator=Indicator.WARNING,
        detail=detail,
        source=source(ADA_SOURCE, TOPIC),
    )


def _unconfirmed(
    record: PatientRecord, finding: LabFinding, history: FeedbackHistory, hook_instance: str
) -> IssuedCard:
    latest = finding.results[0]
    name = _sentence(test_name(latest))
    shown = " and ".join(shown_result(item) for item in finding.results)
    orders = confirmatory_orders(
        record,
        latest.measure,
        f"Confirm {shown_result(latest)} (ADA: two abnormal results)",
        history,
    )
    action = suggested_tests(orders) if orders else ": confirmatory test ordered, result awaited"
    detail = _detail(
        f"The chart holds {shown}, in the diabetes range ({DIABETES_RANGE}, ADA), and "
        f"{_no_diabetes(record)}. One abnormal result is not a diagnosis. " + TWO_RESULTS_RULE,
        CONFIRMS,
        pending_test(history),
        record=record,
        converted=any(item.converted for item in finding.results),
    )
    return build_card(
        hook_instance=hook_instance,
        card_type=UNCONFIRMED,
        band=None,
        orders=orders,
        summary=fitting_summary(
            f"{_sentence(shown_result(latest))} in the diabetes range, not confirmed{action}",
            f"{name} {shown_value(latest)} in the diabetes range, not confirmed{action}",
            f"{name} {shown_value(latest)} in the diabetes range, not confirmed",
        ),
        indicator=Indicator.WARNING,
        detail=detail,
        source=source(ADA_SOURCE, TOPIC),
    )


def _glucose_200_or_more(
    record: PatientRecord, finding: LabFinding, history: FeedbackHistory, hook_instance: str
) -> IssuedCard:
    latest = finding.results[0]
    reason = f"Confirm {shown_result(latest)} (ADA: random glucose without symptoms)"
    orders = unless_ordered(
        (hba1c_order(record, reason), fasting_glucose_order(record, reason)), history, record
    )
    detail = _detail(
        f"The chart holds {shown_result(latest)}, coded without a fasting status (not LOINC "
        f"1558-6, fasting glucose), and {_no_diabetes(record)}.",
        f"A random plasma glucose of {RANDOM_GLUCOSE_DIABETES:g} mg/dL or more is diabetes only "
        "with classic symptoms of hyperglycaemia (polyuria, polydipsia, unexplained weight loss) "
        "or a hyperglycaemic crisis (ADA 2025, section 2). No such symptoms are recorded (the "
        "service cannot read them): if they are present, this result is diagnostic; if not, it "
        f"warrants confirmatory testing, an HbA1c ({HBA1C_DIABETES:g}% or more) or a fasting "
        f"plasma glucose ({FASTING_GLUCOSE_DIABETES:g} mg/dL or more).",
        pending_test(history),
        record=record,
        converted=False,
    )
    action = (
        ": confirmatory testing warranted" if orders else ": confirmatory test ordered, awaited"
    )
    return build_card(
        hook_instance=hook_instance,
        card_type=GLUCOSE_200_OR_MORE,
        band=None,
        orders=orders,
        summary=fitting_summary(
            f"{_sentence(shown_result(latest))}, no symptoms recorded{action}",
            f"Glucose {shown_value(latest)}, no symptoms recorded{action}",
        ),
        indicator=Indicator.WARNING,
        detail=detail,
        source=source(ADA_SOURCE, TOPIC),
    )


def _unknown_fasting(
    record: PatientRecord, finding: LabFinding, history: FeedbackHistory, hook_instance: str
) -> IssuedCard:
    values = " and ".join(shown_value(item) for item in finding.results[:2])
    shown = " and ".join(shown_result(item) for item in finding.results)
    reason = f"Glucose {values} of unknown fasting status"
    orders = unless_ordered(
        (
            replace(fasting_glucose_order(record, reason), recommended=True),
            replace(hba1c_order(record, reason), recommended=False),
        ),
        history,
        record,
    )
    detail = _detail(
        f"The chart holds {shown}, coded without a fasting status (LOINC 2345-7 or 2339-0, not "
        f"1558-6, fasting glucose), and {_no_diabetes(record)}.",
        "Such results are not read as fasting glucose: fasting, "
        f"{FASTING_GLUCOSE_DIABETES:g} mg/dL or more would be in the diabetes range (ADA 2025, "
        "section 2); after a meal such a value can be normal. A fasting plasma glucose or an "
        "HbA1c tells which.",
        pending_test(history),
        record=record,
        converted=False,
    )
    action = suggested_tests(orders) if orders else ": test ordered, awaited"
    count = len(finding.results)
    more = f" ({count} results)" if count > 2 else ""
    return build_card(
        hook_instance=hook_instance,
        card_type=GLUCOSE_UNKNOWN_FASTING,
        band=None,
        orders=orders,
        summary=fitting_summary(
            f"Glucose {values}{more}, fasting status unknown{action}",
            f"Glucose {shown_value(finding.results[0])}, fasting status unknown{action}",
        ),
        indicator=Indicator.INFO,
        detail=detail,
        source=source(ADA_SOURCE, TOPIC),
    )


def _prediabetes_range(
    record: PatientRecord,
    finding: LabFinding,
    card_type: str,
    history: FeedbackHistory,
    hook_instance: str,
) -> IssuedCard:
    latest = finding.results[0]
    result = shown_result(latest)
    basis = screening_basis(record)
    orders = tuple(
        order
        for order in (
            SuggestedOrder(
                kind=PREDIABETES_PROBLEM_LIST_ENTRY,
                label="Add prediabetes to the problem list",
                description="Record prediabetes, citing the result",
                resource=provisional_condition(
                    record.patient_id, SNOMED_PREDIABETES, "Prediabetes", finding.sources
                ),
                recommended=True,
            ),
            prevention_referral(record, f"{result}, prediabetes range"),
        )
        if order.kind not in history.accepted and (order.kind != PREVENTION_REFERRAL or basis.refer)
    )
    shown = " and ".join(shown_result(item) for item in finding.results)
    detail = _detail(
        f"The chart holds {shown}, in the prediabetes range ({PREDIABETES_RANGE[latest.measure]}, "
        "ADA 2025, section 2), and no prediabetes or diabetes diagnosis. The ADA advises "
        "testing for diabetes every year in prediabetes.",
        basis.referral_words,
        record=record,
        converted=any(item.converted for item in finding.results),
    )
    return build_card(
        hook_instance=hook_instance,
        card_type=card_type,
        band=None,
        orders=orders,
        summary=fitting_summary(
            f"{_sentence(result)}: prediabetes range, not on the problem list",
            f"{_sentence(test_name(latest))} {shown_value(latest)}: prediabetes range, "
            "not on the problem list",
        ),
        indicator=Indicator.INFO,
        detail=detail,
        source=source(ADA_SOURCE, TOPIC),
    )
