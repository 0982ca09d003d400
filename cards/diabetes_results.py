"""What the chart's glycaemia results say by the ADA 2025 criteria, and how a card shows them.

ADA Standards of Care in Diabetes 2025, section 2: diabetes is an HbA1c of 6.5% or more, a
fasting plasma glucose of 126 mg/dL or more, or a random plasma glucose of 200 mg/dL or more
with classic symptoms of hyperglycaemia or a hyperglycaemic crisis. Without unequivocal
hyperglycaemia it takes two abnormal results, from the same sample or two separate samples.
Prediabetes is an HbA1c of 5.7-6.4% or a fasting glucose of 100-125 mg/dL.

Only LOINC 1558-6 is a fasting glucose. A glucose coded without a fasting status (2345-7 in
serum or plasma, 2339-0 in blood: `Measure.GLUCOSE_RANDOM`) is never read as fasting, so two
of 130 mg/dL are not "fasting glucose of 126 or more twice"; they call for a fasting test.

A value is compared as reported or converted (47 mmol/mol is 6.45%, below 6.5%) and shown with
as many decimals as keep it on the same side of every cut-off as the comparison: 6.45% is never
shown as 6.5%. A converted result is shown in the unit the laboratory reported, the converted
value beside it: "47 mmol/mol (6.45%)".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from cards.explanation import shown_number
from fhir_adapters.codes import Measure
from fhir_adapters.patient_record import Measurement, PatientRecord
from models.criteria import (
    DIABETES_CONFIRMING_RESULTS,
    DIABETES_RESCREEN_YEARS,
    FASTING_GLUCOSE_DIABETES,
    FASTING_GLUCOSE_DYSGLYCEMIA,
    HBA1C_DIABETES,
    HBA1C_DYSGLYCEMIA,
    RANDOM_GLUCOSE_DIABETES,
    UNKNOWN_FASTING_GLUCOSE_ABNORMAL,
)

# A result older than the screening interval no longer describes the patient (USPSTF 2021).
LAB_WINDOW = timedelta(days=DIABETES_RESCREEN_YEARS * 365)
_CUT_OFFS: dict[Measure, tuple[float, ...]] = {
    Measure.HBA1C: (HBA1C_DYSGLYCEMIA, HBA1C_DIABETES),
    Measure.GLUCOSE_FASTING: (
        FASTING_GLUCOSE_DYSGLYCEMIA,
        FASTING_GLUCOSE_DIABETES,
        RANDOM_GLUCOSE_DIABETES,
    ),
    Measure.GLUCOSE_RANDOM: (
        FASTING_GLUCOSE_DYSGLYCEMIA,
        FASTING_GLUCOSE_DIABETES,
        RANDOM_GLUCOSE_DIABETES,
    ),
}
_DECIMALS = {Measure.HBA1C: 1, Measure.GLUCOSE_FASTING: 0, Measure.GLUCOSE_RANDOM: 0}
_TEST_NAMES = {
    Measure.HBA1C: "HbA1c",
    Measure.GLUCOSE_FASTING: "fasting glucose",
    Measure.GLUCOSE_RANDOM: "glucose",
}


def _with_unit(number: str, unit: str) -> str:
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"


def shown_value(item: Measurement) -> str:
    """A result as a card shows it: "6.45%", "47 mmol/mol (6.45%)", "7.2 mmol/L (130 mg/dL)"."""
    cut_offs = _CUT_OFFS.get(item.measure, ())
    canonical = _with_unit(
        shown_number(item.value, cut_offs, _DECIMALS.get(item.measure, 1)), item.unit
    )
    if item.converted and item.reported_value is not None and item.reported_unit:
        return f"{_with_unit(f'{item.reported_value:g}', item.reported_unit)} ({canonical})"
    return canonical


def shown_result(item: Measurement) -> str:
    """A result with its test and date: "HbA1c 47 mmol/mol (6.45%) on 2026-10-01"."""
    return f"{test_name(item)} {shown_value(item)} on {item.effective.date().isoformat()}"


def test_name(item: Measurement) -> str:
    """The test in words: "HbA1c", "fasting glucose", "glucose"."""
    return _TEST_NAMES.get(item.measure, str(item.measure))


def recent(record: PatientRecord, measure: Measure) -> list[Measurement]:
    """The measure's results in the last 3 years, newest first."""
    since = record.as_of - LAB_WINDOW
    return [m for m in record.history(measure) if m.effective.date() >= since]


def in_diabetes_range(item: Measurement) -> bool:
    """An HbA1c of 6.5% or more, or a fasting glucose of 126 mg/dL or more (ADA)."""
    if item.measure is Measure.HBA1C:
        return item.value >= HBA1C_DIABETES
    return item.measure is Measure.GLUCOSE_FASTING and item.value >= FASTING_GLUCOSE_DIABETES


def in_prediabetes_range(item: Measurement) -> bool:
    """An HbA1c of 5.7-6.4% or a fasting glucose of 100-125 mg/dL (ADA)."""
    if item.measure is Measure.HBA1C:
        return HBA1C_DYSGLYCEMIA <= item.value < HBA1C_DIABETES
    return (
        item.measure is Measure.GLUCOSE_FASTING
        and FASTING_GLUCOSE_DYSGLYCEMIA <= item.value < FASTING_GLUCOSE_DIABETES
    )


class Finding(StrEnum):
    """What the chart's results say, the most telling first."""

    # Two abnormal results: the ADA criteria for diabetes are met.
    MEETS_CRITERIA = "meets-criteria"
    # The latest HbA1c or fasting glucose is in the diabetes range, with no second result.
    UNCONFIRMED = "unconfirmed"
    # A glucose of 200 or more without a fasting status: diabetes only with classic symptoms.
    GLUCOSE_200_OR_MORE = "glucose-200-or-more"
    # A glucose of 126 or more whose fasting status is unknown.
    GLUCOSE_UNKNOWN_FASTING = "glucose-unknown-fasting"
    # The latest HbA1c or fasting glucose is in the prediabetes range.
    PREDIABETES_RANGE = "prediabetes-range"
    # The latest HbA1c or fasting glucose is normal: screening is answered for 3 years.
    NORMAL = "normal"


@dataclass(frozen=True)
class LabFinding:
    """A finding and the results it rests on, newest first."""

    finding: Finding
    results: tuple[Measurement, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        """The FHIR references of the results, for the card's evidence."""
        return tuple(dict.fromkeys(item.source for item in self.results))


def _confirming_pair(abnormal: list[Measurement]) -> tuple[Measurement, ...] | None:
    # Two results of different tests (same sample or not), or of one test on different days
    # (two separate samples: the same test twice on one day is taken as one sample reported
    # twice).
    for index, first in enumerate(abnormal):
        for second in abnormal[index + 1 :]:
            if (
                second.measure is not first.measure
                or second.effective.date() != first.effective.date()
            ):
                return (first, second)
    return None


def _not_followed_up(item: Measurement, diagnostic: list[Measurement]) -> bool:
    # An HbA1c or fasting glucose taken on or after the glucose has answered it.
    return all(other.effective < item.effective for other in diagnostic)


def read_results(record: PatientRecord) -> LabFinding | None:
    """What the last 3 years' results say by the ADA criteria; None when there are none that
    bear on screening (no HbA1c, no fasting glucose, no raised glucose)."""
    hba1c = recent(record, Measure.HBA1C)
    fasting = recent(record, Measure.GLUCOSE_FASTING)
    other = recent(record, Measure.GLUCOSE_RANDOM)
    diagnostic = sorted(hba1c + fasting, key=lambda m: m.effective, reverse=True)
    abnormal = [item for item in diagnostic if in_diabetes_range(item)]
    if len(abnormal) >= DIABETES_CONFIRMING_RESULTS:
        pair = _confirming_pair(abnormal)
        if pair is not None:
            return LabFinding(Finding.MEETS_CRITERIA, pair)
    latest = [tests[0] for tests in (hba1c, fasting) if tests]
    unconfirmed = [item for item in latest if in_diabetes_range(item)]
    if unconfirmed:
        return LabFinding(Finding.UNCONFIRMED, tuple(unconfirmed))
    open_glucose = [item for item in other if _not_followed_up(item, diagnostic)]
    very_high = [item for item in open_glucose if item.value >= RANDOM_GLUCOSE_DIABETES]
    if very_high:
        return LabFinding(Finding.GLUCOSE_200_OR_MORE, tuple(very_high))
    raised = [item for item in open_glucose if item.value >= UNKNOWN_FASTING_GLUCOSE_ABNORMAL]
    if raised:
        return LabFinding(Finding.GLUCOSE_UNKNOWN_FASTING, tuple(raised))
    if any(in_prediabetes_range(item) for item in latest):
        # The tests whose latest result is in the range, with their earlier results in it.
        tests = {item.measure for item in latest if in_prediabetes_range(item)}
        borderline = [m for m in diagnostic if m.measure in tests and in_prediabetes_range(m)]
        return LabFinding(Finding.PREDIABETES_RANGE, tuple(borderline))
    if latest:
        return LabFinding(Finding.NORMAL, tuple(latest))
    return None
