"""Cast members led by a diabetes card (see `demo_ehr.cast`): each with an adult office blood
pressure card beside it."""

from __future__ import annotations

from datetime import date

from demo_ehr.chart_writer import CastMember, ChartWriter
from fhir_adapters.codes import LOINC_HBA1C


def members(today: date) -> list[CastMember]:
    """Every diabetes-led member, dated from `today`."""
    return [_hba1c_twice(today)]


def _hba1c_twice(today: date) -> CastMember:
    chart = ChartWriter("hba1c-twice", today, "Rosa", "Delgado", "female", 56)
    chart.body_measures(31.0, 98.0)
    chart.lipids(44.0, 205.0)
    chart.quantity(LOINC_HBA1C, "Hemoglobin A1c", 6.7, "%", 20)
    chart.quantity(LOINC_HBA1C, "Hemoglobin A1c", 6.8, "%", 120)
    chart.blood_pressure(148, 94, 20)
    chart.blood_pressure(144, 90, 120)
    return chart.member(
        "HbA1c 6.7% and 6.8% on two days, no diabetes diagnosis; raised BP on two days",
        "diabetes-possible-undiagnosed",
        "hypertension-detected",
    )
