"""Cast members led by a blood pressure card (see `demo_ehr.cast`): the populations the adult
ACC/AHA 2017 numbers do not serve, and home series beside office readings.

Here: pregnancy and the weeks after it, read against ACOG's thresholds (Practice Bulletin 222,
Committee Opinion 736), a child against AAP 2017's screening values and an adolescent against
AAP's 3 raised visits. None of them gets an adult detection, estimate or home card: that is
what each shows. The home series members are in `demo_ehr.cast_home_blood_pressure`.
"""

from __future__ import annotations

from datetime import date

from demo_ehr.cast_codes import SNOMED_PREGNANCY
from demo_ehr.chart_writer import CastMember, ChartWriter
from fhir_adapters.codes import SNOMED

# A pregnancy's onset 21 weeks ago: past ACOG's 20 weeks, well inside the 42 the service allows.
PREGNANCY_ONSET_DAYS = 21 * 7
# A term delivery 3 weeks ago (onset 43 weeks ago): inside ACOG's 6 postpartum weeks.
DELIVERED_ONSET_DAYS, DELIVERED_DAYS = 43 * 7, 21


def members(today: date) -> list[CastMember]:
    """Every member of the populations the adult numbers do not serve, dated from `today`."""
    return [
        _pregnant_severe_range(today),
        _pregnant_raised(today),
        _postpartum_severe_range(today),
        _postpartum_raised(today),
        _child_above_screening_value(today),
        _adolescent_raised_on_three_visits(today),
    ]


def _pregnant(chart: ChartWriter) -> None:
    chart.condition(SNOMED, *SNOMED_PREGNANCY, PREGNANCY_ONSET_DAYS)


def _delivered_three_weeks_ago(chart: ChartWriter) -> None:
    chart.condition(SNOMED, *SNOMED_PREGNANCY, DELIVERED_ONSET_DAYS, "resolved", DELIVERED_DAYS)


def _pregnant_severe_range(today: date) -> CastMember:
    chart = ChartWriter("pregnant-severe", today, "Thandiwe", "Mokoena", "female", 31)
    _pregnant(chart)
    chart.blood_pressure(118, 74, 300)  # before the pregnancy
    chart.blood_pressure(126, 80, 40)
    chart.blood_pressure(166, 112, 2)
    return chart.member(
        "Pregnant, 166/112 two days ago: ACOG's severe range, urgent obstetric evaluation",
        "pregnancy-blood-pressure-severe",
    )


def _pregnant_raised(today: date) -> CastMember:
    chart = ChartWriter("pregnant-raised", today, "Ileana", "Marchetti", "female", 34)
    _pregnant(chart)
    chart.blood_pressure(124, 78, 60)
    chart.blood_pressure(142, 92, 5)
    return chart.member(
        "Pregnant, 142/92 five days ago: ACOG's thresholds, not the adult ones",
        "pregnancy-blood-pressure-raised",
    )


def _postpartum_severe_range(today: date) -> CastMember:
    chart = ChartWriter("postpartum-severe", today, "Priyanka", "Raghunathan", "female", 29)
    _delivered_three_weeks_ago(chart)
    chart.blood_pressure(134, 86, 40)  # in the pregnancy: not read as an adult's
    chart.blood_pressure(164, 112, 1)
    return chart.member(
        "Delivered 3 weeks ago, 164/112 yesterday: ACOG's severe range after pregnancy",
        "postpartum-blood-pressure-severe",
    )


def _postpartum_raised(today: date) -> CastMember:
    chart = ChartWriter("postpartum-raised", today, "Siobhan", "Gallagher", "female", 36)
    _delivered_three_weeks_ago(chart)
    chart.body_measures(27.5, 88.0)
    chart.blood_pressure(128, 82, 60)
    chart.blood_pressure(150, 95, 3)
    return chart.member(
        "Delivered 3 weeks ago, 150/95 since: ACOG's postpartum thresholds, not the adult ones",
        "postpartum-blood-pressure-raised",
    )


def _child_above_screening_value(today: date) -> CastMember:
    chart = ChartWriter("child-screening", today, "Mateo", "Quispe", "male", 9)
    chart.blood_pressure(112, 70, 400)
    chart.blood_pressure(118, 76, 12)
    return chart.member(
        "Boy of 9, 118/76: above AAP 2017's screening value, percentiles needed, no adult stage",
        "child-blood-pressure-screening",
    )


def _adolescent_raised_on_three_visits(today: date) -> CastMember:
    chart = ChartWriter("adolescent-three-visits", today, "Darius", "Farahani", "male", 16)
    chart.body_measures(24.0, 80.0)
    chart.blood_pressure(136, 84, 150)
    chart.blood_pressure(134, 86, 80)
    chart.blood_pressure(138, 85, 15)
    return chart.member(
        "Age 16, 134-138/84-86 on 3 visits: AAP 2017's adolescent stage 1, not the adult rules",
        "adolescent-blood-pressure",
    )
