"""What the detail page shows for a patient: each risk estimate with its whole explanation.

Flask-free: the chart is read with the launch's token, the record built and the models run
exactly as for a hook call, and the result turned into plain rows for the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cards.explanation import describe_value, percent
from cds_service.catalog import DIABETES_RISK
from cds_service.storage.smart_records import SmartSession
from fhir_adapters.fhir_server import FhirAccess
from fhir_adapters.gathering import PatientDataGatherer
from fhir_adapters.patient_record import PatientRecord
from fhir_adapters.record_builder import record_from_gathered
from models.hypertension import assess_hypertension
from models.prediction import NoEstimate, RiskEstimate
from models.registry import RiskModels

# Pushes smaller than this print as +0.00 or -0.00; they are said as "no effect".
NO_EFFECT_BELOW = 0.005


@dataclass(frozen=True)
class FactorBar:
    """One input's push on the estimate, for a bar: up (raised) or down (lowered)."""

    text: str
    shapley: float
    # The bar's length relative to the largest push on this estimate, 0-100.
    width_percent: float

    @property
    def raises(self) -> bool:
        """Whether this input raised the estimate."""
        return self.shapley > 0

    @property
    def effect(self) -> str:
        """ "raised", "lowered", or "no effect" when it moved the estimate by less than shown."""
        if abs(self.shapley) < NO_EFFECT_BELOW:
            return "no effect"
        return "raised" if self.raises else "lowered"


@dataclass(frozen=True)
class ExplainedRisk:
    """One model's answer for the patient."""

    title: str
    model: str
    probability: str | None
    scale: str
    factors: tuple[FactorBar, ...]
    missing: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class DetailPage:
    """Everything the page shows."""

    patient: str
    risks: tuple[ExplainedRisk, ...]
    data_issues: tuple[str, ...]
    read_at: datetime


RISK_TITLES = {
    "diabetes-dysglycemia": "Undiagnosed dysglycemia (HbA1c >= 5.7%)",
    "diabetes-undiagnosed": "Undiagnosed diabetes (HbA1c >= 6.5%)",
    "hypertension-unmeasured": "Blood pressure >= 130/80 if measured",
    "hypertension-incidence": "Hypertension within 4 years (Framingham)",
}


def detail_page(
    session: SmartSession,
    gatherer: PatientDataGatherer,
    models: RiskModels,
    budget_seconds: float,
) -> DetailPage:
    """Read the launched patient's chart and explain every estimate the models can give."""
    access = FhirAccess(session.iss, session.access_token, session.patient)
    gathered = gatherer.gather(
        DIABETES_RISK.prefetch, None, {"patientId": session.patient}, access, budget_seconds
    )
    now = datetime.now(UTC)
    record = record_from_gathered(session.patient, gathered, now.date())
    return DetailPage(
        patient=session.patient,
        risks=tuple(explain(answer) for answer in _answers(record, models)),
        data_issues=tuple(f"{issue.path}: {issue.reason}" for issue in record.data_issues),
        read_at=now,
    )


def _answers(record: PatientRecord, models: RiskModels) -> list[RiskEstimate | NoEstimate]:
    hypertension = assess_hypertension(
        record, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    answers = [models.dysglycemia.predict(record), models.undiagnosed_diabetes.predict(record)]
    if hypertension.estimate is not None:
        answers.append(hypertension.estimate)
    return answers


def explain(answer: RiskEstimate | NoEstimate) -> ExplainedRisk:
    """An estimate as rows, largest push first; or why there is none."""
    title = RISK_TITLES.get(answer.model, answer.model)
    if isinstance(answer, NoEstimate):
        return ExplainedRisk(title, answer.model, None, "", (), answer.missing, answer.reasons)
    largest = max((abs(item.shapley) for item in answer.contributions), default=0.0) or 1.0
    factors = tuple(
        FactorBar(describe_value(item), item.shapley, round(100 * abs(item.shapley) / largest, 1))
        for item in sorted(answer.contributions, key=lambda item: -abs(item.shapley))
    )
    return ExplainedRisk(
        title,
        answer.model,
        percent(answer.probability),
        answer.margin_scale,
        factors,
        answer.missing,
        (),
    )
