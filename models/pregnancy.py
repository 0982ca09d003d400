"""Pregnancy: whether the record shows a current one, and its blood pressure as ACOG reads it.

Pregnant patients are outside every model's population (the model cards say so): the learned
models and Parikh's equation refuse them, and their pressure is read against ACOG's thresholds
(Practice Bulletin 222), not ACC/AHA's. Only readings taken during the pregnancy count, and the
latest day's, not a year's mean: a normal reading from before 20 weeks must not hide a new
gestational hypertension.

Postpartum (`recent_delivery`): hypertension and preeclampsia can first appear up to 6 weeks
after delivery (ACOG PB 222; Committee Opinion 736), so a reading in that time is read against
the same thresholds, not the adult categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import fmean

from fhir_adapters.codes import ConditionKind
from fhir_adapters.patient_record import (
    BloodPressureReading,
    ClinicalStatus,
    ConditionFact,
    PatientRecord,
)
from models.criteria import (
    POSTPARTUM_WEEKS,
    PREECLAMPSIA_FROM_WEEKS,
    PREGNANCY_HYPERTENSION_DIASTOLIC,
    PREGNANCY_HYPERTENSION_SYSTOLIC,
    PREGNANCY_MAX_WEEKS,
    PREGNANCY_OCCASIONS_HOURS_APART,
    PREGNANCY_SEVERE_DIASTOLIC,
    PREGNANCY_SEVERE_SYSTOLIC,
)

PREGNANCY_WINDOW = timedelta(weeks=PREGNANCY_MAX_WEEKS)
NOT_FOR_PREGNANCY = "not for pregnancy: outside the population the model was built on"
NOT_FOR_POSTPARTUM = (
    "not within 6 weeks of a delivery: HbA1c and blood pressure are not yet settled"
)


def current_pregnancy(record: PatientRecord) -> ConditionFact | None:
    """The active pregnancy on the record, unless its onset is too long ago to be current."""
    pregnancy = record.pregnancy
    if pregnancy is None:
        return None
    if pregnancy.onset is not None and pregnancy.onset < record.as_of - PREGNANCY_WINDOW:
        return None
    return pregnancy


def _raised(reading: BloodPressureReading) -> bool:
    return (reading.systolic or 0.0) >= PREGNANCY_HYPERTENSION_SYSTOLIC or (
        reading.diastolic or 0.0
    ) >= PREGNANCY_HYPERTENSION_DIASTOLIC


@dataclass(frozen=True)
class PregnancyPressure:
    """The latest day's pressure in this pregnancy, and the raised readings behind it."""

    pregnancy: ConditionFact
    systolic: float
    diastolic: float
    # The day of the latest readings, and how many were taken on it (their mean is the pressure).
    day: date
    readings_that_day: int
    sources: tuple[str, ...]
    # Readings of 140/90 or more in this pregnancy, and whether two were 4 hours or more apart.
    raised_readings: int
    raised_hours_apart: bool

    @property
    def hypertensive(self) -> bool:
        """Whether the latest pressure is 140/90 or more (ACOG)."""
        return (
            self.systolic >= PREGNANCY_HYPERTENSION_SYSTOLIC
            or self.diastolic >= PREGNANCY_HYPERTENSION_DIASTOLIC
        )

    @property
    def severe(self) -> bool:
        """Whether the latest pressure is in the severe range, 160/110 or more (ACOG)."""
        return (
            self.systolic >= PREGNANCY_SEVERE_SYSTOLIC
            or self.diastolic >= PREGNANCY_SEVERE_DIASTOLIC
        )


def pregnancy_pressure(
    record: PatientRecord, pregnancy: ConditionFact, since: date | None = None
) -> PregnancyPressure | None:
    """The pressure during the pregnancy (since its onset, at most 42 weeks), or since `since`
    (after a delivery); None if unmeasured."""
    if since is None:
        since = record.as_of - PREGNANCY_WINDOW
        if pregnancy.onset is not None and pregnancy.onset > since:
            since = pregnancy.onset
    readings = [
        reading
        for reading in record.blood_pressure
        if reading.effective.date() >= since
        and reading.systolic is not None
        and reading.diastolic is not None
    ]
    if not readings:
        return None
    day = readings[0].effective.date()
    latest = [reading for reading in readings if reading.effective.date() == day]
    raised = sorted(reading.effective for reading in readings if _raised(reading))
    hours_apart = timedelta(hours=PREGNANCY_OCCASIONS_HOURS_APART)
    return PregnancyPressure(
        pregnancy=pregnancy,
        systolic=fmean(reading.systolic or 0.0 for reading in latest),
        diastolic=fmean(reading.diastolic or 0.0 for reading in latest),
        day=day,
        readings_that_day=len(latest),
        sources=tuple(dict.fromkeys(source for item in latest for source in item.sources)),
        raised_readings=len(raised),
        raised_hours_apart=len(raised) >= 2 and raised[-1] - raised[0] >= hours_apart,
    )


@dataclass(frozen=True)
class RecentDelivery:
    """An ended pregnancy whose delivery may have been in the last 6 weeks (ACOG)."""

    pregnancy: ConditionFact
    # Readings from this day on may be postpartum (or late in the pregnancy): either way they
    # are read against ACOG's thresholds.
    readings_from: date
    # The latest day the delivery can have been, from the onset (42 weeks, post-term), or the
    # recorded end.
    delivered_by: date
    # Whether the EHR recorded the end (the delivery day), rather than it being inferred.
    end_recorded: bool = False


def recent_delivery(record: PatientRecord) -> RecentDelivery | None:
    """The ended pregnancy that may have been delivered within the last 6 weeks, or None.

    When the EHR records the end (abatement), the 6 weeks run from it. Otherwise the delivery
    is placed between 20 weeks after the onset (before it, no preeclampsia follows) and 42
    weeks after it (post-term): a pregnancy whose onset is 20 to 48 weeks ago may have been
    delivered in the last 6 weeks. Without an onset or an end nothing can be said, and the
    adult rules apply.
    """
    postpartum = timedelta(weeks=POSTPARTUM_WEEKS)
    earliest = timedelta(weeks=PREECLAMPSIA_FROM_WEEKS)
    for item in record.conditions:
        if item.kind is not ConditionKind.PREGNANCY or item.clinical_status is not (
            ClinicalStatus.RESOLVED
        ):
            continue
        if item.abated is not None:
            # The end is recorded: postpartum for 6 weeks after it, if it came at 20 weeks or
            # later (or the onset is unknown: the end is what matters, and a wrong card is
            # less likely than a missed postpartum preeclampsia).
            late_enough = item.onset is None or item.abated >= item.onset + earliest
            if late_enough and record.as_of - postpartum <= item.abated <= record.as_of:
                return RecentDelivery(item, item.abated, item.abated, end_recorded=True)
            continue
        if item.onset is None:
            continue
        delivered_by = min(item.onset + PREGNANCY_WINDOW, record.as_of)
        if item.onset + earliest <= record.as_of and delivered_by >= record.as_of - postpartum:
            readings_from = max(item.onset + earliest, record.as_of - postpartum)
            return RecentDelivery(item, readings_from, delivered_by)
    return None


def hba1c_unreliable(record: PatientRecord) -> bool:
    """Whether HbA1c cannot be trusted for this patient now: in pregnancy and in the postpartum
    weeks (ADA 2025 section 2: altered red-cell turnover), so no HbA1c is suggested or
    estimated; the 6 weeks of `recent_delivery` stand for the postpartum period."""
    return current_pregnancy(record) is not None or recent_delivery(record) is not None
