"""Subgroups a learned model serves less well, read from its artifact, for the card shown.

`cdss train` scores each model on its held-out rows by sex, race/ethnicity and age band
(`models.training.subgroups`) and seals in the artifact the subgroups that are poorly served by
the rule below. At run time `poorly_served(model, record)` returns those this patient belongs
to, each with a sentence for the card. The patient record holds no race or ethnicity, so those
subgroups are reported in the model card but cannot be matched to a patient here.

The rule, fixed before the figures were seen (issue 16, item 12): a subgroup with at least
`MIN_ROWS` held-out rows and `MIN_EACH_OUTCOME` with each outcome is poorly served when its
calibration slope is outside `SLOPE_RANGE` or its AUROC is below `AUROC_FLOOR`. With fewer rows
a slope or an AUROC says too little to act on and is only reported.

Standard library and the record only: the service and training import it alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fhir_adapters.patient_record import AdministrativeSex, PatientRecord
from models.artifacts import Artifact
from models.criteria import ADULT_AGE, NHANES_TOP_CODED_AGE

# Calibration slope (target 1): below 0.8 the estimates are too extreme for the subgroup, above
# 1.2 too timid (Van Calster et al. 2016 read 0.8-1.2 as acceptable in validation studies).
SLOPE_RANGE = (0.8, 1.2)
# Within a subgroup the AUROC is lower than overall (an age band removes much of age's signal),
# so the floor is for discrimination that barely ranks patients at all.
AUROC_FLOOR = 0.65
MIN_ROWS = 100
MIN_EACH_OUTCOME = 10

SEX = "sex"
AGE_BAND = "age band"
RACE_ETHNICITY = "race/ethnicity"

# (lowest age, highest age, label). NHANES records every age of 80 or more as 80.
AGE_BANDS = (
    (ADULT_AGE, 39, f"{ADULT_AGE}-39"),
    (40, 59, "40-59"),
    (60, NHANES_TOP_CODED_AGE - 1, f"60-{NHANES_TOP_CODED_AGE - 1}"),
    (NHANES_TOP_CODED_AGE, 200, f"{NHANES_TOP_CODED_AGE} and over (top-coded)"),
)
# The survey's sex values, and how a card names each group.
SEX_VALUES = {AdministrativeSex.MALE: "Male", AdministrativeSex.FEMALE: "Female"}
_SEX_WORDS = {"Male": "men", "Female": "women"}


def age_band(age: float) -> str | None:
    """The age band's label, or None under 18."""
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return None


def group_words(subgroup: str, value: str) -> str:
    """How a sentence names a subgroup: "men", "adults aged 60-79", "Non-Hispanic Black adults"."""
    if subgroup == SEX:
        return _SEX_WORDS.get(value, value)
    if subgroup == AGE_BAND:
        return f"adults aged {value}"
    return f"{value} adults"


def judge(n: int, events: int, auroc: float | None, slope: float | None) -> tuple[str, ...]:
    """Why a subgroup is poorly served by the rule above (empty: it is not, or too small)."""
    if n < MIN_ROWS or min(events, n - events) < MIN_EACH_OUTCOME:
        return ()
    reasons = []
    if slope is not None and not SLOPE_RANGE[0] <= slope <= SLOPE_RANGE[1]:
        reasons.append("calibration")
    if auroc is not None and auroc < AUROC_FLOOR:
        reasons.append("discrimination")
    return tuple(reasons)


@dataclass(frozen=True)
class SubgroupCaveat:
    """A subgroup the patient belongs to that the model serves less well, with its figures."""

    model: str
    subgroup: str  # SEX, AGE_BAND or RACE_ETHNICITY
    value: str  # as the survey codes it ("Male", "60-79")
    n: int
    events: int
    auroc: float
    calibration_slope: float
    reasons: tuple[str, ...]  # "calibration", "discrimination"

    @property
    def sentence(self) -> str:
        """The card's sentence, in what the figures mean for reading the estimate, e.g. "Less
        reliable for men (486 held-out adults): its estimates are too extreme (calibration slope
        0.46), so high figures may overstate and low ones understate the risk."."""
        parts = []
        slope = f"calibration slope {self.calibration_slope:.2f}"
        if "calibration" in self.reasons:
            if self.calibration_slope < SLOPE_RANGE[0]:
                parts.append(
                    f"its estimates are too extreme ({slope}), so high figures may overstate "
                    "and low ones understate the risk"
                )
            else:
                parts.append(
                    f"its estimates are too timid ({slope}), so the risk may be further from "
                    "the average than shown"
                )
        if "discrimination" in self.reasons:
            parts.append(f"it ranks risk less well (AUROC {self.auroc:.2f})")
        who = group_words(self.subgroup, self.value)
        return f"Less reliable for {who} ({self.n} held-out adults): {'; and '.join(parts)}."

    @classmethod
    def from_metadata(cls, model: str, item: dict[str, Any]) -> SubgroupCaveat:
        """One entry of an artifact's `training.subgroups.poorly_served`."""
        return cls(
            model=model,
            subgroup=str(item["subgroup"]),
            value=str(item["value"]),
            n=int(item["n"]),
            events=int(item["events"]),
            auroc=float(item["auroc"]),
            calibration_slope=float(item["calibration_slope"]),
            reasons=tuple(str(reason) for reason in item["reasons"]),
        )


class _HasArtifact(Protocol):
    @property
    def artifact(self) -> Artifact: ...


def caveats(model: _HasArtifact) -> tuple[SubgroupCaveat, ...]:
    """Every poorly served subgroup sealed in the model's artifact (none in an older one)."""
    artifact = model.artifact
    items = artifact.training.get("subgroups", {}).get("poorly_served", [])
    return tuple(SubgroupCaveat.from_metadata(artifact.name, item) for item in items)


# NHANES records every age of 80 and over as 80: the learned models are given 80 for an older
# patient (`models.features`), and the card says so.
TOP_CODED_AGE = (
    f"**Age {{age}} was entered as {NHANES_TOP_CODED_AGE}.** The model's data (NHANES) record "
    f"every age of {NHANES_TOP_CODED_AGE} and over as {NHANES_TOP_CODED_AGE}: the model saw no "
    f"one recorded as older than {NHANES_TOP_CODED_AGE}, so this is the estimate for the "
    f"{NHANES_TOP_CODED_AGE}-and-over group it knew, not for age {{age}} itself."
)


def population_caveats(
    sealed: tuple[SubgroupCaveat, ...], record: PatientRecord
) -> tuple[str, ...]:
    """What the card must say about how far the model's data and validation reach this patient:
    an age past NHANES's top code, then each poorly served subgroup (of `sealed`, the model's
    `caveats`, read once at load) the patient is in."""
    age = record.demographics.age_years
    past_data = age is not None and age > NHANES_TOP_CODED_AGE
    top_coded = (TOP_CODED_AGE.format(age=age),) if past_data else ()
    return top_coded + tuple(caveat.sentence for caveat in _patients(sealed, record))


def poorly_served(model: _HasArtifact, record: PatientRecord) -> tuple[SubgroupCaveat, ...]:
    """The poorly served subgroups this patient belongs to, by sex and age band.

    Race/ethnicity is not in the record, so its subgroups are never matched here.
    """
    return _patients(caveats(model), record)


def _patients(
    sealed: tuple[SubgroupCaveat, ...], record: PatientRecord
) -> tuple[SubgroupCaveat, ...]:
    age = record.demographics.age_years
    mine = {
        (SEX, SEX_VALUES.get(record.demographics.sex)),
        (AGE_BAND, age_band(age) if age is not None else None),
    }
    return tuple(c for c in sealed if (c.subgroup, c.value) in mine)
