"""Both risk services' cards for a chart, as the service builds them, and their golden files.

Every card is checked against the CDS Hooks validator (`card_rules`) before it is compared.
`pytest --update-golden` rewrites the files from what the code gives now: then read the diff as
a clinician would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from card_policies import DEFAULT_POLICY
from card_rules import check_card, without_uuids

from cards.card_parts import IssuedCard
from cards.diabetes_cards import diabetes_cards
from cards.hypertension_cards import hypertension_cards
from cards.policy import NO_HISTORY, FeedbackHistory
from fhir_adapters.patient_record import PatientRecord
from models.hypertension import assess_hypertension
from models.registry import RiskModels

GOLDEN = Path(__file__).resolve().parent / "data" / "golden_cards"
HOOK_INSTANCE = "5c0e2a3e-4f44-4b7a-9a8e-1d2f3a4b5c6d"
POLICY = DEFAULT_POLICY


def advise(
    models: RiskModels, chart: PatientRecord, history: FeedbackHistory = NO_HISTORY
) -> dict[str, list[IssuedCard]]:
    """Both services' cards for a chart, as the service builds them."""
    assessment = assess_hypertension(
        chart, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    return {
        "diabetes-risk": list(
            diabetes_cards(
                chart,
                models.dysglycemia.predict(chart),
                models.undiagnosed_diabetes.predict(chart),
                POLICY,
                history,
                HOOK_INSTANCE,
            )
        ),
        "hypertension-risk": list(
            hypertension_cards(chart, assessment, POLICY, history, HOOK_INSTANCE)
        ),
    }


def check_golden(
    name: str, cards: dict[str, list[IssuedCard]], patient_id: str, update: bool
) -> None:
    """Every card valid, and all of them equal to the golden file `name` (uuids aside)."""
    document: dict[str, Any] = {}
    for service, issued in cards.items():
        for item in issued:
            check_card(item.card.to_json(), patient_id)
        document[service] = [
            {"type": item.card_type, "band": None if item.band is None else item.band.word,
             "card": without_uuids(item.card.to_json())}
            for item in issued
        ]  # fmt: skip
    path = GOLDEN / f"{name}.json"
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if update:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden file {path.name}: run pytest --update-golden and review"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), name
