"""Which readings each hypertension answer rests on: after treatment began, after a delivery,
older than the 12-month window, and AAP's screening values for children.

ACC/AHA 2017 (goal on treatment; monthly reassessment after a start or change), ACOG PB 222 and
Committee Opinion 736 (postpartum up to 6 weeks; preeclampsia after 20 weeks), AAP 2017 (3 visits;
Table 4 screening values by age and sex).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from model_records import AS_OF, reading, record

from fhir_adapters.codes import ConditionKind, DrugClass
from fhir_adapters.patient_record import ClinicalStatus, ConditionFact, MedicationFact
from models.criteria import AAP_SCREENING_VALUES, aap_screening_value
from models.hypertension_readings import (
    earlier_readings,
    latest_visit,
    pressure_summary,
    treatment_window,
)
from models.pregnancy import recent_delivery


def _ended_pregnancy(onset_weeks_ago: int | None) -> ConditionFact:
    onset = None if onset_weeks_ago is None else AS_OF - timedelta(weeks=onset_weeks_ago)
    return ConditionFact(ConditionKind.PREGNANCY, ClinicalStatus.RESOLVED, "confirmed", "x",
                         "Pregnancy", onset, None, "Condition/pregnancy")  # fmt: skip


@pytest.mark.parametrize(
    ("onset_weeks_ago", "postpartum"),
    [
        (19, False),  # ended before 20 weeks: no delivery after which preeclampsia is looked for
        (20, True),
        (43, True),  # a term delivery about 3 weeks ago
        (48, True),  # delivered by 42 weeks: at most 6 weeks ago
        (49, False),  # delivered at least 7 weeks ago: the adult rules
        (None, False),  # no onset: nothing can be said
    ],
)
def test_a_recent_delivery_is_bounded_from_the_onset(
    onset_weeks_ago: int | None, postpartum: bool
) -> None:
    chart = replace(record(), conditions=(_ended_pregnancy(onset_weeks_ago),))
    assert (recent_delivery(chart) is not None) is postpartum


def test_readings_after_a_delivery_start_at_most_6_weeks_back() -> None:
    chart = replace(record(), conditions=(_ended_pregnancy(43),))
    delivery = recent_delivery(chart)
    assert delivery is not None
    assert delivery.readings_from == AS_OF - timedelta(weeks=6)
    assert delivery.delivered_by == AS_OF - timedelta(weeks=1)


def _on_lisinopril(authored_days_ago: int | None) -> MedicationFact:
    authored = None if authored_days_ago is None else AS_OF - timedelta(days=authored_days_ago)
    return MedicationFact(DrugClass.ANTIHYPERTENSIVE, "lisinopril", "lisinopril 10 MG", authored,
                          "MedicationRequest/l")  # fmt: skip


def test_the_mean_on_treatment_starts_after_the_order_day() -> None:
    readings = (reading(126, 76, 10), reading(160, 100, 30), reading(158, 98, 60))
    chart = replace(record(blood_pressure=readings), medications=(_on_lisinopril(30),))
    window = treatment_window(chart)
    assert window.started == AS_OF - timedelta(days=30)
    assert [r.systolic for r in window.before] == [160, 158]  # the order day counts as before
    pressure = pressure_summary(chart, window)
    assert pressure is not None
    assert (pressure.systolic.value, pressure.occasions) == (126, 1)


def test_an_unknown_start_uses_the_last_3_months() -> None:
    readings = (reading(140, 90, 10), reading(120, 70, 100))
    chart = replace(record(blood_pressure=readings), medications=(_on_lisinopril(None),))
    window = treatment_window(chart)
    assert window.started is None
    assert window.since == AS_OF - timedelta(days=90)
    pressure = pressure_summary(chart, window)
    assert pressure is not None
    assert pressure.systolic.value == 140


def test_an_old_start_keeps_the_whole_year() -> None:
    readings = (reading(140, 90, 10), reading(130, 80, 300))
    chart = replace(record(blood_pressure=readings), medications=(_on_lisinopril(2000),))
    window = treatment_window(chart)
    assert window.before == ()
    pressure = pressure_summary(chart, window)
    assert pressure is not None
    assert pressure.occasions == 2


def test_raised_visits_are_counted_by_each_day_s_own_mean() -> None:
    # Day 10: 150/95 and 110/70 (mean 130/82.5, raised); day 40: 118/72 (not raised).
    readings = (reading(150, 95, 10), reading(110, 70, 10), reading(118, 72, 40))
    pressure = pressure_summary(record(blood_pressure=readings))
    assert pressure is not None
    assert (pressure.occasions, pressure.raised_occasions) == (2, 1)


def test_earlier_readings_and_the_latest_visit() -> None:
    readings = (reading(110, 70, 10), reading(120, 80, 10), reading(130, 85, 400))
    chart = record(blood_pressure=readings)
    assert [r.systolic for r in earlier_readings(chart)] == [130]
    visit = latest_visit(chart)
    assert visit is not None
    assert (visit.systolic, visit.diastolic, visit.readings) == (115, 75, 2)
    assert latest_visit(record(blood_pressure=(reading(130, 85, 400),))) is None


@pytest.mark.parametrize(
    ("age", "sex", "value"),
    [
        # AAP 2017, Table 4 (the values the card states).
        (1, "male", (98, 52)),
        (1, "female", (98, 54)),
        (8, "male", (107, 69)),
        (8, "female", (107, 69)),
        (12, "male", (113, 75)),
        (12, "female", (114, 75)),
        (0, "male", None),  # under 1: not in the table
        (13, "female", None),  # from 13 the adolescent categories apply
        (8, "unknown", None),
    ],
)
def test_aap_screening_values(age: int, sex: str, value: tuple[float, float] | None) -> None:
    assert aap_screening_value(age, sex) == value


def test_the_aap_table_rises_with_age() -> None:
    for sex in ("male", "female"):
        values = [AAP_SCREENING_VALUES[age][sex] for age in range(1, 13)]
        assert values == sorted(values)


def test_earlier_readings_are_from_the_last_10_years_and_adulthood() -> None:
    # ACC/AHA 2017's adult categories read adults; the last 10 years are what the card shows.
    readings = (reading(130, 85, 400), reading(135, 88, 3500), reading(140, 90, 3700))
    assert [r.systolic for r in earlier_readings(record(blood_pressure=readings))] == [130, 135]
    # Born 2006-01-01: 18 on 2024-01-01, so the reading of 2025 counts, not those of childhood.
    young = record(age=20, blood_pressure=(reading(130, 85, 400), reading(135, 88, 1500)))
    assert [r.systolic for r in earlier_readings(young)] == [130]
