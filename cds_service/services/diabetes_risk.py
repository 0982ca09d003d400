"""`diabetes-risk`: undiagnosed diabetes and prediabetes, from the labs or the NHANES models.

Both diabetes estimates are made for the record, then the card rules (`cards.diabetes_cards`)
decide what, if anything, to say.
"""

from __future__ import annotations

from collections.abc import Sequence

from cards.card_parts import IssuedCard
from cards.diabetes_cards import diabetes_cards
from cds_service.services.definition import (
    PATIENT_VIEW,
    RISK_PREFETCH,
    Advisor,
    CdsServiceDefinition,
    LoadedParts,
    ServiceInput,
)
from models.criteria import HBA1C_DIABETES, HBA1C_DYSGLYCEMIA
from models.registry import RiskModels


class DiabetesAdvice:
    """Both diabetes estimates, then the card rules."""

    def __init__(self, models: RiskModels) -> None:
        self._models = models

    def __call__(self, service_input: ServiceInput) -> Sequence[IssuedCard]:
        """The cards for this call."""
        record = service_input.record
        return diabetes_cards(
            record,
            self._models.dysglycemia.predict(record),
            self._models.undiagnosed_diabetes.predict(record),
            service_input.policy,
            service_input.history,
            service_input.hook_instance,
        )


def _advisor(parts: LoadedParts) -> Advisor:
    return DiabetesAdvice(parts.risk_models)


DEFINITION = CdsServiceDefinition(
    id="diabetes-risk",
    hook=PATIENT_VIEW,
    title="Undiagnosed diabetes and prediabetes risk",
    description=(
        "Reads HbA1c and glucose results by the ADA criteria (one result in the diabetes range "
        "asks for confirmation; two confirm; prediabetes range not on the problem list), and "
        "otherwise estimates the probability that an adult without diagnosed diabetes has "
        f"undiagnosed prediabetes or diabetes (HbA1c >= {HBA1C_DYSGLYCEMIA:g}%) and diabetes "
        f"alone (HbA1c >= {HBA1C_DIABETES:g}%), explains the estimate and suggests screening "
        "as USPSTF 2021 or ADA advise; nothing in pregnancy but the laboratory cards."
    ),
    prefetch=RISK_PREFETCH,
    advisor=_advisor,
)
