"""What the blood-pressure cards share: how a pressure is written and the orders they suggest."""

from __future__ import annotations

from collections.abc import Sequence

from cards.card_parts import SuggestedOrder, service_request
from cards.explanation import shown_number
from cards.policy import FeedbackHistory
from fhir_adapters.codes import LOINC_BP_PANEL
from fhir_adapters.patient_record import BloodPressureReading, MedicationFact
from models.criteria import (
    ELEVATED_SYSTOLIC,
    HOME_STAGE2_DIASTOLIC,
    HOME_STAGE2_SYSTOLIC,
    PREGNANCY_SEVERE_DIASTOLIC,
    PREGNANCY_SEVERE_SYSTOLIC,
    STAGE1_DIASTOLIC,
    STAGE1_SYSTOLIC,
    STAGE2_DIASTOLIC,
    STAGE2_SYSTOLIC,
    BloodPressureCategory,
    blood_pressure_category,
)
from models.hypertension_readings import PressureSummary

TOPIC = "hypertension"
HOME_MONITORING = "home-bp-monitoring"
MEASUREMENT = "bp-measurement"
# The ranges of the stages, as ACC/AHA 2017 (adults) and AAP 2017 (13 and over) both draw them.
STAGE_RANGES = {
    1: f"stage 1 range ({STAGE1_SYSTOLIC:g}-{STAGE2_SYSTOLIC - 1:g} "
    f"or {STAGE1_DIASTOLIC:g}-{STAGE2_DIASTOLIC - 1:g})",
    2: f"stage 2 range ({STAGE2_SYSTOLIC:g}+ or {STAGE2_DIASTOLIC:g}+)",
}


# Every cut-off a card reads a pressure against (adult, home, pregnancy): a mean is written with
# the decimals that keep it on its side of each, so a mean of 129.6 is "129.6", never "130".
SYSTOLIC_CUT_OFFS = (
    ELEVATED_SYSTOLIC,
    STAGE1_SYSTOLIC,
    HOME_STAGE2_SYSTOLIC,
    STAGE2_SYSTOLIC,
    PREGNANCY_SEVERE_SYSTOLIC,
)
DIASTOLIC_CUT_OFFS = (
    STAGE1_DIASTOLIC,
    HOME_STAGE2_DIASTOLIC,
    STAGE2_DIASTOLIC,
    PREGNANCY_SEVERE_DIASTOLIC,
)


def mmhg(systolic: float, diastolic: float) -> str:
    """A pressure as a card writes it, "145/91", never rounded across a cut-off."""
    return (
        f"{shown_number(systolic, SYSTOLIC_CUT_OFFS, 0)}/"
        f"{shown_number(diastolic, DIASTOLIC_CUT_OFFS, 0)}"
    )


def pressure_text(pressure: PressureSummary) -> str:
    """The mean pressure as a card writes it: "145/91 mmHg"."""
    return f"{mmhg(pressure.systolic.value or 0.0, pressure.diastolic.value or 0.0)} mmHg"


# How a reading's ACC/AHA 2017 category is written beside it.
CATEGORY_WORDS = {
    BloodPressureCategory.NORMAL: "normal",
    BloodPressureCategory.ELEVATED: "elevated",
    BloodPressureCategory.STAGE_1: "stage 1 range",
    BloodPressureCategory.STAGE_2: "stage 2 range",
}


def reading_text(reading: BloodPressureReading) -> str:
    """One reading with its date and category: "129/92 on 2024-03-02 (stage 2 range)"."""
    sbp, dbp = reading.systolic or 0.0, reading.diastolic or 0.0
    category = CATEGORY_WORDS[blood_pressure_category(sbp, dbp)]
    return f"{mmhg(sbp, dbp)} on {reading.effective.date()} ({category})"


def medication_names(medications: Sequence[MedicationFact]) -> tuple[str, ...]:
    """The ways to name the drugs, longest first: all of them, two and a count, a count."""
    names = [item.ingredient for item in medications]
    if not names:
        return ("no antihypertensive",)
    every = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    shorter = [every]
    if len(names) > 2:
        shorter.append(f"{', '.join(names[:2])} and {len(names) - 2} more")
    if len(names) > 1:
        shorter.append(f"{names[0]} and {len(names) - 1} more")
        shorter.append(f"{len(names)} antihypertensives")
    return tuple(shorter)


def home_monitoring(patient_id: str, reason: str) -> SuggestedOrder:
    """A draft order for home blood pressure monitoring."""
    return SuggestedOrder(
        kind=HOME_MONITORING,
        label="Start home blood pressure monitoring",
        description="Home blood pressure monitoring",
        resource=service_request(patient_id, "Home blood pressure monitoring", reason),
        recommended=True,
    )


def measurement(patient_id: str, reason: str) -> SuggestedOrder:
    """A draft order for an office blood pressure measurement (LOINC 85354-9)."""
    return SuggestedOrder(
        kind=MEASUREMENT,
        label="Measure blood pressure",
        description="Blood pressure measurement (LOINC 85354-9)",
        resource=service_request(patient_id, "Blood pressure panel", reason, LOINC_BP_PANEL),
        recommended=True,
    )


def not_yet_accepted(
    history: FeedbackHistory, *orders: SuggestedOrder
) -> tuple[SuggestedOrder, ...]:
    """The orders whose kind was not accepted recently (taken as pending)."""
    return tuple(order for order in orders if order.kind not in history.accepted)
