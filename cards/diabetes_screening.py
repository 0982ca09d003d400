"""Which recommendation a diabetes screening or prevention suggestion follows, and the orders.

USPSTF 2021 (screening for prediabetes and type 2 diabetes): adults aged 35 to 70 with
overweight or obesity; those with prediabetes are offered or referred to effective preventive
interventions. ADA 2025, section 2: testing for everyone from 35, with no upper age, and at any
adult age with overweight or obesity and one or more risk factors. A suggestion names the one
it follows; where neither covers the patient there is no screening suggestion, and a
prevention-programme referral is suggested only where USPSTF covers the patient (35-70 with a
BMI of 25 or more, not pregnant): a 90-year-old, or a 30-year-old, gets none.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cards.card_parts import SuggestedOrder, service_request
from cards.policy import FeedbackHistory
from fhir_adapters.codes import (
    LOINC_GLUCOSE_FASTING,
    LOINC_HBA1C,
    ConditionKind,
    DrugClass,
    Kinship,
    Measure,
)
from fhir_adapters.patient_record import PatientRecord
from models import features
from models.criteria import (
    ADA_RISK_HDL_BELOW,
    ADA_RISK_TRIGLYCERIDES_ABOVE,
    ADA_SCREENING_AGE,
    ADULT_AGE,
    BMI_OVERWEIGHT,
    STAGE1_DIASTOLIC,
    STAGE1_SYSTOLIC,
    USPSTF_SCREENING_MAX_AGE,
    USPSTF_SCREENING_MIN_AGE,
)
from models.pregnancy import current_pregnancy, hba1c_unreliable

HBA1C_ORDER = "hba1c-order"
FASTING_GLUCOSE_ORDER = "fasting-glucose-order"
PREVENTION_REFERRAL = "diabetes-prevention-referral"

USPSTF = (
    f"USPSTF 2021 (screening adults {USPSTF_SCREENING_MIN_AGE}-{USPSTF_SCREENING_MAX_AGE} "
    f"with overweight or obesity, BMI {BMI_OVERWEIGHT:g} or more)"
)
ADA_BY_AGE = f"ADA 2025 section 2 (testing everyone from age {ADA_SCREENING_AGE})"
ADA_BY_RISK = "ADA 2025 section 2 (testing adults with overweight or obesity and a risk factor"
_FIRST_DEGREE = (Kinship.PARENT, Kinship.SIBLING, Kinship.CHILD)


@dataclass(frozen=True)
class ScreeningBasis:
    """The recommendation a screening suggestion follows (None: none covers the patient),
    whether a prevention referral is advised, and the words saying so."""

    recommendation: str | None
    refer: bool
    referral_words: str


def _bmi(record: PatientRecord) -> float | None:
    return features.BMI.extract(record).value


def ada_risk_factors(record: PatientRecord) -> list[str]:
    """The ADA 2025 risk factors the chart shows (those it can: not ethnicity, activity, PCOS)."""
    found = []
    if any(
        item.kind is ConditionKind.DIABETES and item.kinship in _FIRST_DEGREE
        for item in record.family_history
    ):
        found.append("a first-degree relative with diabetes")
    systolic = features.SYSTOLIC.extract(record).value
    diastolic = features.DIASTOLIC.extract(record).value
    if (
        record.has_condition(ConditionKind.HYPERTENSION)
        or record.takes(DrugClass.ANTIHYPERTENSIVE)
        or (systolic is not None and systolic >= STAGE1_SYSTOLIC)
        or (diastolic is not None and diastolic >= STAGE1_DIASTOLIC)
    ):
        found.append("hypertension or blood pressure of 130/80 or more")
    hdl = features.HDL.extract(record).value
    triglycerides = record.latest(Measure.TRIGLYCERIDES)
    if (hdl is not None and hdl < ADA_RISK_HDL_BELOW) or (
        triglycerides is not None and triglycerides.value > ADA_RISK_TRIGLYCERIDES_ABOVE
    ):
        found.append(
            f"HDL below {ADA_RISK_HDL_BELOW:g} or triglycerides above "
            f"{ADA_RISK_TRIGLYCERIDES_ABOVE:g} mg/dL"
        )
    if any(item.kind is ConditionKind.GESTATIONAL_DIABETES for item in record.conditions):
        found.append("a history of gestational diabetes")
    return found


def screening_basis(record: PatientRecord) -> ScreeningBasis:
    """Which recommendation covers screening this patient, and whether a referral is advised."""
    age = record.demographics.age_years
    bmi = _bmi(record)
    overweight = bmi is not None and bmi >= BMI_OVERWEIGHT
    uspstf = (
        age is not None
        and USPSTF_SCREENING_MIN_AGE <= age <= USPSTF_SCREENING_MAX_AGE
        and overweight
    )
    risks = ada_risk_factors(record) if overweight else []
    if uspstf:
        recommendation: str | None = USPSTF
    elif age is not None and age >= ADA_SCREENING_AGE:
        recommendation = ADA_BY_AGE
    elif age is not None and age >= ADULT_AGE and risks:
        recommendation = f"{ADA_BY_RISK}: {', '.join(risks)})"
    else:
        recommendation = None
    refer = uspstf and current_pregnancy(record) is None
    if age is not None and age < ADULT_AGE:
        words = ""  # the programmes and the recommendations are for adults: nothing to explain
    elif refer:
        words = (
            "A prevention-programme referral follows USPSTF 2021: the adults it screens "
            f"({USPSTF_SCREENING_MIN_AGE}-{USPSTF_SCREENING_MAX_AGE} with overweight or obesity) "
            "who have prediabetes are offered or referred to effective preventive interventions."
        )
    else:
        why = (
            "pregnancy"
            if current_pregnancy(record) is not None and uspstf
            else "no BMI in the last 3 years"
            if bmi is None
            else f"age {age}"
            if age is not None and not USPSTF_SCREENING_MIN_AGE <= age <= USPSTF_SCREENING_MAX_AGE
            else f"BMI {bmi:.1f}"
            if not overweight
            else "age not recorded"
        )
        words = (
            f"No prevention-programme referral is suggested ({why}): {USPSTF} advises one for "
            "the people it screens who have prediabetes, and this patient is not among them."
        )
    return ScreeningBasis(recommendation, refer, words)


def hba1c_order(
    record: PatientRecord, reason: str, label: str = "Order an HbA1c"
) -> SuggestedOrder:
    """A draft HbA1c order (LOINC 4548-4)."""
    return SuggestedOrder(
        kind=HBA1C_ORDER,
        label=label,
        description="Order HbA1c (LOINC 4548-4)",
        resource=service_request(
            record.patient_id, "Hemoglobin A1c/Hemoglobin.total in Blood", reason, LOINC_HBA1C
        ),
        recommended=True,
    )


def fasting_glucose_order(
    record: PatientRecord, reason: str, label: str = "Order a fasting plasma glucose"
) -> SuggestedOrder:
    """A draft fasting plasma glucose order (LOINC 1558-6)."""
    return SuggestedOrder(
        kind=FASTING_GLUCOSE_ORDER,
        label=label,
        description="Order fasting glucose (LOINC 1558-6)",
        resource=service_request(
            record.patient_id,
            "Fasting glucose [Mass/volume] in Serum or Plasma",
            reason,
            LOINC_GLUCOSE_FASTING,
        ),
    )


def prevention_referral(record: PatientRecord, reason: str) -> SuggestedOrder:
    """A draft referral to a diabetes prevention programme (no verified code: as text)."""
    return SuggestedOrder(
        kind=PREVENTION_REFERRAL,
        label="Refer to a diabetes prevention programme",
        description="Referral to a diabetes prevention programme",
        resource=service_request(
            record.patient_id, "Referral to a diabetes prevention programme", reason
        ),
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def confirmatory_orders(
    record: PatientRecord, first: Measure, reason: str, history: FeedbackHistory
) -> tuple[SuggestedOrder, ...]:
    """The tests that confirm an abnormal result: its repeat (recommended), the other test."""
    # The repeat of the abnormal test first (recommended), the other test beside it.
    repeat_hba1c = first is Measure.HBA1C
    hba1c = hba1c_order(
        record, reason, "Order a repeat HbA1c" if repeat_hba1c else "Order an HbA1c"
    )
    fasting = fasting_glucose_order(
        record,
        reason,
        "Order a fasting plasma glucose" if repeat_hba1c else "Order a repeat fasting glucose",
    )
    ordered = (
        (hba1c, fasting)
        if repeat_hba1c
        else (replace(fasting, recommended=True), replace(hba1c, recommended=False))
    )
    return unless_ordered(ordered, history, record)


def unless_ordered(
    orders: tuple[SuggestedOrder, ...], history: FeedbackHistory, record: PatientRecord
) -> tuple[SuggestedOrder, ...]:
    """The test suggestions still to make: none while one is pending; no HbA1c in pregnancy."""
    # A test accepted from an earlier card is pending and decides the question: while it is,
    # neither test is suggested again, and the card says it is awaited. In pregnancy HbA1c is
    # unreliable (ADA 2025): only the glucose test is suggested, as the recommended one.
    if pending_test(history):
        return ()
    if hba1c_unreliable(record):
        return tuple(
            replace(order, recommended=True) for order in orders if order.kind != HBA1C_ORDER
        )
    return orders


def suggested_tests(orders: tuple[SuggestedOrder, ...]) -> str:
    """How a summary names the suggested tests: ": repeat HbA1c or fasting glucose suggested"."""
    names = {HBA1C_ORDER: "HbA1c", FASTING_GLUCOSE_ORDER: "fasting glucose"}
    tests = " or ".join(names[order.kind] for order in orders if order.kind in names)
    repeat = "repeat " if orders and "repeat" in orders[0].label else ""
    return f": {repeat}{tests} suggested"


def pending_test(history: FeedbackHistory) -> str:
    """The sentence saying which test is pending from an earlier card ("" if none)."""
    taken = [
        name
        for kind, name in ((HBA1C_ORDER, "an HbA1c"), (FASTING_GLUCOSE_ORDER, "a fasting glucose"))
        if kind in history.accepted
    ]
    if not taken:
        return ""
    ordered = _sentence(" and ".join(taken))
    return f"{ordered} {'was' if len(taken) == 1 else 'were'} ordered from an earlier card: " + (
        "the result is awaited."
    )
