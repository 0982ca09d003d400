"""What the blood-pressure cards share: how a pressure is written and the orders they suggest."""

from __future__ import annotations

from cards.card_parts import SuggestedOrder, service_request
from cards.policy import FeedbackHistory
from fhir_adapters.codes import LOINC_BP_PANEL
from models.criteria import STAGE1_DIASTOLIC, STAGE1_SYSTOLIC, STAGE2_DIASTOLIC, STAGE2_SYSTOLIC
from models.hypertension import PressureSummary

TOPIC = "hypertension"
HOME_MONITORING = "home-bp-monitoring"
MEASUREMENT = "bp-measurement"
# The ranges of the stages, as ACC/AHA 2017 (adults) and AAP 2017 (13 and over) both draw them.
STAGE_RANGES = {
    1: f"stage 1 range ({STAGE1_SYSTOLIC:g}-{STAGE2_SYSTOLIC - 1:g} "
    f"or {STAGE1_DIASTOLIC:g}-{STAGE2_DIASTOLIC - 1:g})",
    2: f"stage 2 range ({STAGE2_SYSTOLIC:g}+ or {STAGE2_DIASTOLIC:g}+)",
}


def pressure_text(pressure: PressureSummary) -> str:
    """The mean pressure as a card writes it: "145/91 mmHg"."""
    return f"{pressure.systolic.value:.0f}/{pressure.diastolic.value:.0f} mmHg"


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
