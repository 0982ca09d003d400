"""Every shipped model, loaded and verified together, once per process at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.hypertension import INCIDENCE_MODEL, IncidenceModel
from models.risk_models import (
    DYSGLYCEMIA,
    UNDIAGNOSED_DIABETES,
    UNMEASURED_BLOOD_PRESSURE,
    LearnedRiskModel,
)

SHIPPED_DIRECTORY = Path(__file__).parent / "shipped"


@dataclass(frozen=True)
class RiskModels:
    """The diabetes and hypertension models a running service uses."""

    dysglycemia: LearnedRiskModel
    undiagnosed_diabetes: LearnedRiskModel
    unmeasured_blood_pressure: LearnedRiskModel
    hypertension_incidence: IncidenceModel

    def content_hashes(self) -> dict[str, str]:
        """Each model's name and its artifact's content hash (for readiness and metrics)."""
        learned = (self.dysglycemia, self.undiagnosed_diabetes, self.unmeasured_blood_pressure)
        hashes = {model.spec.name: model.artifact.content_sha256 for model in learned}
        hashes[INCIDENCE_MODEL] = self.hypertension_incidence.artifact.content_sha256
        return hashes


def load_risk_models(directory: Path | None = None) -> RiskModels:
    """Load every model from `directory` (default: the shipped ones), or raise `ArtifactError`."""
    where = directory or SHIPPED_DIRECTORY
    return RiskModels(
        dysglycemia=LearnedRiskModel.load(DYSGLYCEMIA, where),
        undiagnosed_diabetes=LearnedRiskModel.load(UNDIAGNOSED_DIABETES, where),
        unmeasured_blood_pressure=LearnedRiskModel.load(UNMEASURED_BLOOD_PRESSURE, where),
        hypertension_incidence=IncidenceModel.load(where),
    )
