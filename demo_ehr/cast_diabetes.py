"""Cast members led by a diabetes card (see `demo_ehr.cast`), all but one with an adult office
blood pressure card beside it (the high estimate's patient is treated and at goal: no card).

Together they show every `diabetes-risk` card: the laboratory cards (two HbA1c results in the
diabetes range, one, a random glucose of 200 or more, one from 126 to 199, an HbA1c or a fasting
glucose in the prediabetes range, prediabetes on the problem list with no HbA1c in a year), the
high estimate with no laboratory result, and the estimate that needs a BMI. Beside them, every
adult office card of `hypertension-risk`: raised on two days, on one day, a high Framingham
risk below 130/80, diagnosed or treated hypertension above the goal or unmeasured in a year,
and an adult with no reading in a year. Each pairing is one a practice sees (a lab-only visit
with no vitals, a patient not seen for over a year), and each line says what the chart holds.
"""

from __future__ import annotations

from datetime import date

from demo_ehr.cast_codes import (
    ICD10_CM_ESSENTIAL_HYPERTENSION,
    ICD10_CM_PREDIABETES,
    ROLE_FATHER,
    ROLE_MOTHER,
    RXNORM_AMLODIPINE_5_MG,
    RXNORM_LISINOPRIL_10_MG,
    SNOMED_ESSENTIAL_HYPERTENSION,
    SNOMED_EX_SMOKER,
    SNOMED_NEVER_SMOKED,
    SNOMED_SMOKES_DAILY,
    SNOMED_TYPE_2_DIABETES,
)
from demo_ehr.chart_writer import CastMember, ChartWriter
from fhir_adapters.codes import (
    LOINC_GLUCOSE_FASTING,
    LOINC_GLUCOSE_SERUM,
    LOINC_HBA1C,
)


def members(today: date) -> list[CastMember]:
    """Every diabetes-led member, dated from `today`."""
    return [
        _hba1c_twice(today),
        _hba1c_once(today),
        _random_glucose_250(today),
        _random_glucose_142(today),
        _prediabetes_overdue(today),
        _hba1c_prediabetes_range(today),
        _fasting_glucose_prediabetes_range(today),
        _high_estimated_risk(today),
        _new_patient_unmeasured(today),
    ]


def _hba1c(chart: ChartWriter, percent: float, days_ago: int) -> None:
    chart.quantity(LOINC_HBA1C, "Hemoglobin A1c", percent, "%", days_ago)


def _glucose(chart: ChartWriter, mg_dl: float, days_ago: int) -> None:
    """A serum glucose whose fasting status was not recorded (read as random, as the ADA does)."""
    chart.quantity(
        LOINC_GLUCOSE_SERUM, "Glucose [Mass/volume] in Serum or Plasma", mg_dl, "mg/dL", days_ago
    )


def _smoker(chart: ChartWriter) -> None:
    chart.smoking_status(*SNOMED_SMOKES_DAILY)


def _never_smoked(chart: ChartWriter) -> None:
    chart.smoking_status(*SNOMED_NEVER_SMOKED)


def _hypertension_diagnosed(chart: ChartWriter, onset_days_ago: int) -> None:
    chart.diagnosis(*ICD10_CM_ESSENTIAL_HYPERTENSION, onset_days_ago)


def _hba1c_twice(today: date) -> CastMember:
    chart = ChartWriter("hba1c-twice", today, "Rosa", "Delgado", "female", 56)
    chart.body_measures(31.0, 98.0)
    chart.lipids(44.0, 205.0)
    _hba1c(chart, 6.7, 20)
    _hba1c(chart, 6.8, 120)
    chart.blood_pressure(148, 94, 20)
    chart.blood_pressure(144, 90, 120)
    return chart.member(
        "HbA1c 6.7% and 6.8% on two days, no diabetes diagnosis; raised BP on two days",
        "diabetes-possible-undiagnosed",
        "hypertension-detected",
    )


def _hba1c_once(today: date) -> CastMember:
    chart = ChartWriter("hba1c-once", today, "Tomasz", "Wierzbicki", "male", 61)
    chart.body_measures(29.5, 102.0)
    chart.lipids(41.0, 198.0)
    _never_smoked(chart)
    _hba1c(chart, 6.6, 25)
    chart.blood_pressure(136, 84, 25)
    return chart.member(
        "One HbA1c of 6.6%, not repeated; BP 136/84 at the same visit, not repeated",
        "diabetes-range-unconfirmed",
        "blood-pressure-repeat",
    )


def _random_glucose_250(today: date) -> CastMember:
    chart = ChartWriter("random-glucose-250", today, "Adaeze", "Okonkwo", "female", 52)
    chart.body_measures(33.2, 104.0)
    chart.lipids(47.0, 221.0)
    _never_smoked(chart)
    _hypertension_diagnosed(chart, 1100)
    _glucose(chart, 250, 14)
    chart.blood_pressure(152, 96, 14)
    chart.blood_pressure(148, 94, 110)
    return chart.member(
        "Glucose 250 mg/dL, fasting unknown, no HbA1c since; hypertension, untreated, BP 150/95",
        "glucose-200-or-more",
        "diagnosed-blood-pressure-above-goal",
    )


def _random_glucose_142(today: date) -> CastMember:
    chart = ChartWriter("random-glucose-142", today, "Hamid", "Rahimi", "male", 64)
    chart.body_measures(28.4, 99.0)
    chart.lipids(39.0, 212.0)
    chart.smoking_status(*SNOMED_EX_SMOKER)
    _hypertension_diagnosed(chart, 900)
    chart.medication_order(*RXNORM_LISINOPRIL_10_MG, 300)
    _glucose(chart, 142, 30)
    chart.blood_pressure(146, 90, 30)
    chart.blood_pressure(144, 92, 150)
    return chart.member(
        "Glucose 142 mg/dL, fasting unknown; on lisinopril, BP about 145/91 on two days",
        "glucose-unknown-fasting",
        "blood-pressure-above-treatment-goal",
    )


def _prediabetes_overdue(today: date) -> CastMember:
    chart = ChartWriter("prediabetes-overdue", today, "Colette", "Fontaine", "female", 67)
    chart.body_measures(30.1, 96.0, days_ago=480)
    chart.lipids(52.0, 224.0, days_ago=480)
    _never_smoked(chart)
    chart.diagnosis(*ICD10_CM_PREDIABETES, 1000)
    _hypertension_diagnosed(chart, 1500)
    chart.medication_order(*RXNORM_AMLODIPINE_5_MG, 700)
    _hba1c(chart, 6.0, 480)
    chart.blood_pressure(134, 82, 480)
    return chart.member(
        "Prediabetes, last HbA1c 16 months ago; on amlodipine, not seen for BP in over a year",
        "prediabetes-monitoring",
        "treated-blood-pressure-unmeasured",
    )


def _hba1c_prediabetes_range(today: date) -> CastMember:
    chart = ChartWriter("hba1c-prediabetes", today, "Declan", "Byrne", "male", 58)
    chart.body_measures(31.0, 106.0)
    chart.lipids(40.0, 215.0)
    _smoker(chart)
    chart.family_history(*ROLE_MOTHER, *SNOMED_ESSENTIAL_HYPERTENSION)
    chart.family_history(*ROLE_FATHER, *SNOMED_ESSENTIAL_HYPERTENSION)
    _hba1c(chart, 6.1, 60)
    chart.blood_pressure(126, 79, 20)
    chart.blood_pressure(128, 78, 100)
    return chart.member(
        "HbA1c 6.1%, no prediabetes diagnosis; BP 127/79, smoker, both parents hypertensive",
        "prediabetes-range-hba1c",
        "hypertension-incidence",
    )


def _fasting_glucose_prediabetes_range(today: date) -> CastMember:
    chart = ChartWriter("fasting-glucose-112", today, "Astrid", "Halvorsen", "female", 49)
    chart.body_measures(27.8, 89.0, days_ago=430)
    chart.lipids(58.0, 196.0, days_ago=40)
    _never_smoked(chart)
    _hypertension_diagnosed(chart, 1200)
    chart.quantity(
        LOINC_GLUCOSE_FASTING, "Fasting glucose [Mass/volume] in Serum or Plasma", 112, "mg/dL", 40
    )
    chart.blood_pressure(138, 86, 430)
    return chart.member(
        "Fasting glucose 112 mg/dL at a lab-only visit; hypertension, untreated, no BP in a year",
        "prediabetes-range-fasting-glucose",
        "diagnosed-blood-pressure-unmeasured",
    )


def _high_estimated_risk(today: date) -> CastMember:
    chart = ChartWriter("diabetes-risk-high", today, "Venkat", "Subramanian", "male", 63)
    chart.body_measures(36.4, 121.0)
    chart.lipids(34.0, 214.0, days_ago=300)
    _smoker(chart)
    chart.family_history(*ROLE_FATHER, *SNOMED_TYPE_2_DIABETES)
    _hypertension_diagnosed(chart, 1300)
    chart.medication_order(*RXNORM_AMLODIPINE_5_MG, 600)
    chart.blood_pressure(124, 76, 30)
    chart.blood_pressure(122, 78, 160)
    return chart.member(
        "No HbA1c or fasting glucose; BMI 36, smoker, father with diabetes; treated BP at goal",
        "diabetes-risk",
    )


def _new_patient_unmeasured(today: date) -> CastMember:
    chart = ChartWriter("new-patient", today, "Noor", "Achterberg", "female", 44)
    _never_smoked(chart)
    chart.family_history(*ROLE_MOTHER, *SNOMED_TYPE_2_DIABETES)
    return chart.member(
        "New patient: no BMI, weight or height, no BP recorded; mother with type 2 diabetes",
        "diabetes-risk-not-estimated",
        "blood-pressure-unmeasured",
    )
