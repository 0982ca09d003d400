"""Cast members with home blood pressure readings beside their office ones (ACC/AHA 2017,
section 4.2, Tables 11 and 12, Figures 2 and 3): one for each home card.

Untreated and undiagnosed, office against home gives white-coat, masked or sustained
hypertension (Figure 2); on treatment or with a diagnosis, the white-coat effect, masked
uncontrolled or uncontrolled hypertension (Figure 3); a series with no office reading in the year
asks for one, and a series begun but not complete says what it lacks. The home card shows
beside the office card and the diabetes card each chart gets from its own readings and inputs.
"""

from __future__ import annotations

from datetime import date

from demo_ehr.cast_codes import (
    ICD10_CM_ESSENTIAL_HYPERTENSION,
    RXNORM_AMLODIPINE_5_MG,
    RXNORM_LISINOPRIL_10_MG,
    SNOMED_NEVER_SMOKED,
)
from demo_ehr.chart_writer import CastMember, ChartWriter
from fhir_adapters.codes import LOINC_HBA1C

# Two office visits a month apart, well inside the year the office mean reads.
OFFICE_VISIT_DAYS = (20, 50)
MORNING = 7


def members(today: date) -> list[CastMember]:
    """Every home blood pressure member, dated from `today`."""
    return [
        _white_coat_hypertension(today),
        _masked_hypertension(today),
        _sustained_hypertension(today),
        _treated_white_coat_effect(today),
        _diagnosed_masked_uncontrolled(today),
        _treated_uncontrolled(today),
        _home_series_without_office_reading(today),
        _home_series_begun(today),
    ]


def _office_visits(chart: ChartWriter, systolic: float, diastolic: float) -> None:
    for days in OFFICE_VISIT_DAYS:
        chart.blood_pressure(systolic, diastolic, days)


def _normal_hba1c(chart: ChartWriter) -> None:
    # Screened within 3 years (USPSTF 2021): the diabetes card has nothing to add.
    chart.quantity(LOINC_HBA1C, "Hemoglobin A1c", 5.4, "%", 150)


def _white_coat_hypertension(today: date) -> CastMember:
    chart = ChartWriter("home-white-coat", today, "Henrik", "Lindqvist", "male", 61)
    chart.body_measures(26.5, 94.0)
    chart.lipids(52.0, 196.0)
    _normal_hba1c(chart)
    _office_visits(chart, 142, 88)
    chart.home_week(124, 76)
    return chart.member(
        "Office 142/88 twice, a home week at 124/76, no diagnosis: white-coat hypertension",
        "hypertension-detected",
        "home-bp-white-coat",
    )


def _masked_hypertension(today: date) -> CastMember:
    chart = ChartWriter("home-masked", today, "Kwame", "Asante", "male", 41)
    chart.body_measures(25.5, 90.0)
    chart.lipids(54.0, 190.0)
    _normal_hba1c(chart)
    chart.smoking_status(*SNOMED_NEVER_SMOKED)
    _office_visits(chart, 124, 76)
    chart.home_week(136, 86)
    return chart.member(
        "Office 124/76 twice, a home week at 136/86, no diagnosis: masked hypertension",
        "home-bp-masked",
    )


def _sustained_hypertension(today: date) -> CastMember:
    chart = ChartWriter("home-sustained", today, "Yusuf", "Demir", "male", 54)
    chart.body_measures(30.5, 104.0)
    chart.lipids(40.0, 224.0)
    _office_visits(chart, 144, 92)
    chart.home_week(138, 87)
    return chart.member(
        "Office 144/92 twice, a home week at 138/87 confirms it, no diagnosis, no HbA1c",
        "hypertension-detected",
        "home-bp-sustained",
        "diabetes-risk",
    )


def _treated_white_coat_effect(today: date) -> CastMember:
    chart = ChartWriter("home-white-coat-effect", today, "Margarethe", "Vogel", "female", 69)
    chart.body_measures(25.0, 86.0)
    _normal_hba1c(chart)
    chart.diagnosis(*ICD10_CM_ESSENTIAL_HYPERTENSION)
    chart.medication_order(*RXNORM_AMLODIPINE_5_MG)
    _office_visits(chart, 142, 88)
    chart.home_week(124, 76)
    return chart.member(
        "On amlodipine, office 142/88 twice, home week 124/76: at goal at home, white-coat effect",
        "blood-pressure-above-treatment-goal",
        "home-bp-white-coat-effect",
    )


def _diagnosed_masked_uncontrolled(today: date) -> CastMember:
    chart = ChartWriter("home-masked-uncontrolled", today, "Linh", "Phan", "female", 62)
    chart.body_measures(23.5, 82.0)
    _normal_hba1c(chart)
    chart.diagnosis(*ICD10_CM_ESSENTIAL_HYPERTENSION)
    _office_visits(chart, 126, 78)
    chart.home_week(136, 84)
    return chart.member(
        "Hypertension, no drug, office 126/78 at goal, home week 136/84: masked uncontrolled",
        "home-bp-masked-uncontrolled",
    )


def _treated_uncontrolled(today: date) -> CastMember:
    chart = ChartWriter("home-uncontrolled", today, "Teodoro", "Villanueva", "male", 66)
    chart.body_measures(29.0, 101.0)
    _normal_hba1c(chart)
    chart.diagnosis(*ICD10_CM_ESSENTIAL_HYPERTENSION)
    chart.medication_order(*RXNORM_LISINOPRIL_10_MG)
    _office_visits(chart, 148, 92)
    chart.home_week(142, 88)
    return chart.member(
        "On lisinopril, office 148/92 twice and a home week at 142/88: above the 130/80 goal",
        "blood-pressure-above-treatment-goal",
        "home-bp-uncontrolled",
    )


def _home_series_without_office_reading(today: date) -> CastMember:
    chart = ChartWriter("home-only", today, "Ingrid", "Solberg", "female", 44)
    chart.body_measures(24.0, 80.0)
    _normal_hba1c(chart)
    chart.blood_pressure(122, 78, 730)  # the last office reading, two years ago
    chart.home_week(138, 86)
    return chart.member(
        "Last office BP 2 years ago, a home week at 138/86: an office reading to compare is due",
        "home-bp-home-only",
    )


def _home_series_begun(today: date) -> CastMember:
    chart = ChartWriter("home-incomplete", today, "Chidi", "Okafor", "male", 50)
    chart.body_measures(27.0, 95.0)
    _normal_hba1c(chart)
    _office_visits(chart, 144, 90)
    # Home monitoring started 3 days ago, mornings only: not yet a series (Table 12).
    for days in (3, 2, 1):
        for minute in (0, 1):
            chart.blood_pressure(140, 88, days, MORNING, minute, at_home=True)
    return chart.member(
        "Office 144/90 twice, home readings 3 mornings so far: not yet a series, no diagnosis",
        "hypertension-detected",
        "home-bp-incomplete",
    )
