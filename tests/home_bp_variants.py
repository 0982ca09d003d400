"""Variants of carebundle's healthy patient for the SMART page's blood pressure: a home series
beside office readings, a child, an adolescent, and a pregnancy.

Each is a documented, deterministic transformation of the seeded carebundle patient (as in
`patient_variants`), dated from `today` because the page reads the chart as of today: the
readings added are the premise of each test, written where the test can see them.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

from patient_variants import (
    BP_PANEL,
    SNOMED,
    Json,
    bp_components,
    concept,
    entry,
    observation,
    patient_url,
    resource,
)
from synthetic_patients import carebundle_patient

MORNING, EVENING = 7, 19
# The home week: morning readings a little above the evening ones, 124/76 on average.
HOME_MORNING, HOME_EVENING = (126.0, 78.0), (122.0, 74.0)
OFFICE = (142.0, 88.0)
OFFICE_DAYS = (20, 50)


def _moment(today: date, days: int, hour: int, minute: int = 0) -> str:
    moment = datetime.combine(today - timedelta(days=days), datetime.min.time(), UTC)
    return (moment + timedelta(hours=hour, minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _healthy() -> tuple[Json, str]:
    bundle = copy.deepcopy(carebundle_patient("healthy", seed=42))
    return bundle, patient_url(bundle)


def _office(
    bundle: Json, patient: str, name: str, when: str, pressure: tuple[float, float]
) -> None:
    panel = observation(patient, BP_PANEL, when, component=bp_components(*pressure))
    bundle["entry"].append(entry(f"{name}/office-{when}", panel))


def home_series_patient(today: date) -> Json:
    """Office 142/88 twice (20 and 50 days ago) and a week of home readings ending yesterday,
    two a minute apart each morning and evening, taken by the patient (performer Patient):
    the page's example of white-coat hypertension (ACC/AHA 2017, Figure 2)."""
    bundle, patient = _healthy()
    for days in OFFICE_DAYS:
        _office(bundle, patient, "home-series", _moment(today, days, 10), OFFICE)
    for days in range(7, 0, -1):
        for hour, pressure in ((MORNING, HOME_MORNING), (EVENING, HOME_EVENING)):
            for minute in (0, 1):
                when = _moment(today, days, hour, minute)
                home = observation(
                    patient,
                    BP_PANEL,
                    when,
                    performer=[{"reference": patient}],
                    device={"display": "Home blood pressure monitor"},
                    component=bp_components(*pressure),
                )
                bundle["entry"].append(entry(f"home-series/home-{when}", home))
    return bundle


def aged_patient(today: date, age: int, name: str) -> Json:
    """The patient born `age` years (and 100 days) before today, with office readings of 124/82
    10 and 40 days ago, and one of 134/86 two years ago."""
    bundle, patient = _healthy()
    born = date(today.year - age, today.month, min(today.day, 28)) - timedelta(days=100)
    bundle["entry"][0]["resource"]["birthDate"] = born.isoformat()
    for days in (10, 40):
        _office(bundle, patient, name, _moment(today, days, 10), (124.0, 82.0))
    _office(bundle, patient, name, _moment(today, 730, 10), (134.0, 86.0))
    return bundle


def pregnant_patient(today: date) -> Json:
    """An active pregnancy (SNOMED 77386006) begun 150 days ago, 142/92 five days ago, and 128/82
    300 days ago, before the pregnancy."""
    bundle, patient = _healthy()
    pregnancy = resource(
        "Condition",
        patient,
        clinicalStatus=concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
        ),
        verificationStatus=concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"
        ),
        code=concept(SNOMED, "77386006", "Pregnancy"),
        onsetDateTime=(today - timedelta(days=150)).isoformat(),
    )
    bundle["entry"].append(entry("pregnant/pregnancy", pregnancy))
    _office(bundle, patient, "pregnant", _moment(today, 5, 10), (142.0, 92.0))
    _office(bundle, patient, "pregnant", _moment(today, 300, 10), (128.0, 82.0))
    return bundle
