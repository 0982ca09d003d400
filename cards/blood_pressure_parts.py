"""What the blood-pressure cards share: how a pressure is written and the orders they suggest."""

from __future__ import annotations

from cards.card_parts import SuggestedOrder, service_request
from cards.policy import FeedbackHistory
from fhir_adapters.codes import LOINC_BP_PANEL
from models.hypertension import PressureSummary

TOPIC = "hypertension"
HOME_MONITORING = "home-bp-monitoring"
MEASUREMENT = "bp-measurement"


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
