"""`hypertension-risk`: raised blood pressure without a diagnosis, or the risk of it.

`models.hypertension` picks the answer that fits the chart (a detection, the probability of a
raised pressure when none was measured, or the 4-year incidence; for the pregnant, the treated
and adolescents their own reading, none for children under 13), then the card rules
(`cards.hypertension_cards`) word it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cards.card_parts import IssuedCard
from cards.hypertension_cards import hypertension_cards
from cds_service.services.definition import (
    PATIENT_VIEW,
    RISK_PREFETCH,
    Advisor,
    CdsServiceDefinition,
    LoadedParts,
    ServiceInput,
)
from models.criteria import (
    ADOLESCENT_AGE,
    ADULT_AGE,
    PREGNANCY_HYPERTENSION_DIASTOLIC,
    PREGNANCY_HYPERTENSION_SYSTOLIC,
    TREATED_GOAL_TEXT,
)
from models.hypertension import assess_hypertension
from models.registry import RiskModels


class HypertensionAdvice:
    """The answer that fits (detection, if measured, or incidence), then the card rules."""

    def __init__(self, models: RiskModels) -> None:
        self._models = models

    def __call__(self, service_input: ServiceInput) -> Sequence[IssuedCard]:
        """The cards for this call."""
        record = service_input.record
        assessment = assess_hypertension(
            record,
            self._models.unmeasured_blood_pressure,
            self._models.hypertension_incidence,
        )
        return hypertension_cards(
            record,
            assessment,
            service_input.policy,
            service_input.history,
            service_input.hook_instance,
        )


def _advisor(parts: LoadedParts) -> Advisor:
    return HypertensionAdvice(parts.risk_models)


DEFINITION = CdsServiceDefinition(
    id="hypertension-risk",
    hook=PATIENT_VIEW,
    title="Hypertension detection and risk",
    description=(
        "Flags recorded blood pressure in the hypertensive range without a diagnosis, estimates "
        "the probability of raised blood pressure when none was measured in 12 months (saying "
        "what older readings were), and the 1- to 4-year risk of hypertension (Framingham) when "
        "blood pressure is recent and normal; with hypertension diagnosed or treated, blood "
        f"pressure above the {TREATED_GOAL_TEXT} goal (ACC/AHA 2017); home series against the "
        "office (white-coat and masked hypertension); in pregnancy and up to 6 weeks after, "
        f"{PREGNANCY_HYPERTENSION_SYSTOLIC:g}/{PREGNANCY_HYPERTENSION_DIASTOLIC:g} or more "
        f"(ACOG); ages {ADOLESCENT_AGE}-{ADULT_AGE - 1} by AAP 2017's categories, younger "
        "children against its screening values."
    ),
    prefetch=RISK_PREFETCH,
    advisor=_advisor,
)
