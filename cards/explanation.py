"""A risk estimate's explanation in clinical words: the factors, their values, what was filled in.

A clinician should be able to check every line against the chart: each factor is shown with
its value, unit and date, in the order of how much it moved the estimate, and each push is said
against the reference it starts from, the average adult of the model's data (the estimate for
that adult is stated once). An input the chart did not give is not ignored by the model: it is
filled in (the average, a branch for missing values, or "none") and moves the estimate like a
recorded one, so it is shown apart, with what it was given and its push. The shown pushes and
the reference add up to the estimate exactly. The words "SHAP" and "model output" never appear;
the model card holds the method.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from fhir_adapters.patient_record import DataIssue
from models.criteria import (
    BMI_HEALTHY,
    BMI_OBESITY,
    BMI_OVERWEIGHT,
    ELEVATED_SYSTOLIC,
    HBA1C_DIABETES,
    HBA1C_DYSGLYCEMIA,
    STAGE1_DIASTOLIC,
    STAGE1_SYSTOLIC,
    STAGE2_DIASTOLIC,
    STAGE2_SYSTOLIC,
)
from models.prediction import (
    NOTHING_RECORDED,
    Absence,
    Contribution,
    FilledIn,
    MissingReason,
    RiskEstimate,
    probability_at,
)

# A factor is worth naming when it moved the log-odds by at least this much (about 5% in odds).
MIN_SHOWN_EFFECT = 0.05
MAX_FACTORS_EACH_WAY = 4
MAX_DATA_ISSUES = 5

# How a yes/no input reads, (when yes, when no).
_FLAG_WORDS = {
    "male_sex": ("Male sex", "Female sex"),
    "female": ("Female sex", "Male sex"),
    "current_smoker": ("Current smoker", "Not a current smoker"),
    "prediabetes": ("Prediabetes diagnosis on record", "No prediabetes diagnosis on record"),
    "diabetes": ("Diabetes on record", "No diabetes on record"),
}
# A yes/no input filled in with the average is a share: "18% current smokers".
_SHARE_WORDS = {"current_smoker": "current smokers", "male_sex": "men"}
# How a filled-in input is named (its label would say a value: "Current smoker").
_FILLED_NAMES = {
    "current_smoker": "Smoking status",
    "male_sex": "Sex",
    "female": "Sex",
    "parents_with_hypertension": "Parents' blood pressure history",
}
_DECIMALS = {"bmi": 1, "hba1c": 1}
# The cut-offs a shown input must not be rounded across (a mean systolic of 129.6 is not "130").
_CUT_OFFS: dict[str, tuple[float, ...]] = {
    "hba1c": (HBA1C_DYSGLYCEMIA, HBA1C_DIABETES),
    "bmi": (BMI_HEALTHY, BMI_OVERWEIGHT, BMI_OBESITY),
    "systolic": (ELEVATED_SYSTOLIC, STAGE1_SYSTOLIC, STAGE2_SYSTOLIC),
    "diastolic": (STAGE1_DIASTOLIC, STAGE2_DIASTOLIC),
}
# At most this many decimals beyond the usual are added to keep a value on its side.
_MAX_EXTRA_DECIMALS = 4
_FEATURE_NAMES = {
    "waist": "waist circumference",
    "systolic": "blood pressure",
    "diastolic": "blood pressure",
    "hdl": "HDL cholesterol",
    "total_cholesterol": "total cholesterol",
    "current_smoker": "smoking status",
    "bmi": "BMI (or weight and height)",
    "hba1c": "HbA1c",
    "parents_with_hypertension": "parents' blood pressure history",
    "male_sex": "sex",
    "age": "date of birth",
}


def percent(probability: float) -> str:
    """A probability as a card shows it: whole percent, never 0% or 100%."""
    value = round(probability * 100)
    if value < 1:
        return "<1%"
    return ">99%" if value > 99 else f"{value}%"


def shown_number(value: float, cut_offs: Sequence[float], decimals: int) -> str:
    """The value with the fewest decimals (from `decimals`) that keep it on the same side of
    every cut-off as the value itself: 6.45 with cut-off 6.5 is "6.45", never "6.5"."""
    for places in range(decimals, decimals + _MAX_EXTRA_DECIMALS + 1):
        text = f"{value:.{places}f}"
        if all((float(text) >= cut) == (value >= cut) for cut in cut_offs):
            return text
    return repr(value)


def describe_value(item: Contribution) -> str:
    """One input in words: "BMI 34.2 kg/m2 (2024-03-02)", "Current smoker", or its filling-in."""
    if item.value is None:
        if item.filled_in is not None:
            return filled_in_text(item)
        return f"{item.label}: {missing_words(item)}"
    if item.feature in _FLAG_WORDS:
        text = _FLAG_WORDS[item.feature][0 if item.value >= 0.5 else 1]
    elif item.feature == "parents_with_hypertension":
        text = f"{item.label}: {item.value:g}"
    else:
        number = shown_number(
            item.value, _CUT_OFFS.get(item.feature, ()), _DECIMALS.get(item.feature, 0)
        )
        text = f"{item.label} {number}"
        if item.unit:
            text += item.unit if item.unit == "%" else f" {item.unit}"
    when = [] if item.effective is None else [item.effective.isoformat()]
    if item.note:
        when.append(item.note)
    return f"{text} ({', '.join(when)})" if when else text


def input_absence(name: str, why: MissingReason) -> str:
    """An input without a value and why, in clinical words: "BMI (or weight and height): last
    recorded 2022-03-04, older than the model's 3-year window", "Waist: not recorded"."""
    words = _FEATURE_NAMES.get(name, name.replace("_", " "))
    return f"{words[0].upper()}{words[1:]}: {reason_words(why)}"


def unusable_input_lines(reasons: Sequence[tuple[str, MissingReason]]) -> list[str]:
    """A line for each input in the chart the model could not use, saying why: "- BMI (or
    weight and height): last recorded 2022-03-04, older than the model's 3-year window"; the
    inputs never recorded are left to the caller's words."""
    return [
        f"- {input_absence(name, why)}"
        for name, why in reasons
        if why.absence is not Absence.NOT_RECORDED
    ]


def missing_inputs(features: Sequence[str], conjunction: str = "and") -> str:
    """The missing inputs in clinical words, each once: "waist, HDL cholesterol and sex"."""
    words = list(
        dict.fromkeys(_FEATURE_NAMES.get(name, name.replace("_", " ")) for name in features)
    )
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


@dataclass(frozen=True)
class ExplainedEstimate:
    """An estimate's contributions as a card shows them; they add up to its margin exactly.

    The reference is the model's expected margin: the average adult of its data. Each recorded
    input that moved the estimate visibly is named; the other recorded ones are summed as one
    line; every input the chart did not give is shown with what the model filled in for it.
    """

    estimate: RiskEstimate
    recorded: tuple[Contribution, ...]
    other_recorded: float
    filled: tuple[Contribution, ...]

    @property
    def shown_margin(self) -> float:
        """The baseline plus every contribution shown: the estimate's margin, up to rounding."""
        parts = [*self.recorded, *self.filled]
        return self.estimate.expected_margin + self.other_recorded + sum(c.shapley for c in parts)

    def points(self, shapley: float) -> float:
        """A contribution in percentage points; all of them add up to estimate - baseline.

        Each margin contribution is scaled by the slope of the secant from the baseline to the
        estimate, so the points are additive, keep their signs, and sum to the difference.
        """
        estimate = self.estimate
        total = sum(item.shapley for item in estimate.contributions)
        if abs(total) < 1e-12:
            step = 1e-6  # no net push: the slope at the baseline
            base = estimate.expected_margin
            slope = (
                probability_at(estimate.margin_scale, base + step)
                - probability_at(estimate.margin_scale, base - step)
            ) / (2 * step)
        else:
            slope = (estimate.probability - estimate.baseline_probability) / total
        return 100.0 * slope * shapley


def explained(estimate: RiskEstimate) -> ExplainedEstimate:
    """The contributions a card shows: named recorded inputs, the rest, and the filled-in ones."""
    filled = tuple(
        sorted(
            (c for c in estimate.contributions if c.value is None or c.feature in estimate.missing),
            key=lambda c: -abs(c.shapley),
        )
    )
    present = [c for c in estimate.contributions if c not in filled]
    raising = sorted(
        (c for c in present if c.shapley >= MIN_SHOWN_EFFECT), key=lambda c: -c.shapley
    )[:MAX_FACTORS_EACH_WAY]
    lowering = sorted(
        (c for c in present if c.shapley <= -MIN_SHOWN_EFFECT), key=lambda c: c.shapley
    )[:MAX_FACTORS_EACH_WAY]
    named = (*raising, *lowering)
    others = sum(c.shapley for c in present if c not in named)
    return ExplainedEstimate(estimate, named, others, filled)


def push_words(points: float, shapley: float) -> str:
    """A contribution said against the reference: "lower than for the average adult (-3 points)"."""
    if shapley == 0.0:
        return "no effect"
    rounded = round(points)
    direction = "higher" if points > 0 else "lower"
    if rounded == 0:
        return f"slightly {direction} than for the average adult (under 1 point)"
    unit = "point" if abs(rounded) == 1 else "points"
    return f"{direction} than for the average adult ({rounded:+d} {unit})"


def factor_lines(estimate: RiskEstimate) -> list[str]:
    """Markdown lines: the recorded inputs against the average adult of the model's data.

    A push is relative to that reference, not absolute: "waist 97 cm: lower than for the average
    adult" says the waist is below the average, not that a large waist protects.
    """
    parts = explained(estimate)
    lines = [f"- {describe_value(c)}: {push_words(parts.points(c.shapley), c.shapley)}"
             for c in parts.recorded]  # fmt: skip
    if parts.other_recorded != 0.0:
        others = push_words(parts.points(parts.other_recorded), parts.other_recorded)
        lines.append(f"- Other recorded inputs together: {others}")
    if not lines:
        return []
    heading = (
        f"**Compared with the average adult in the model's data "
        f"({percent(estimate.baseline_probability)}):**"
    )
    return [heading, *lines, ""]


def _filled_value(item: Contribution, filled: FilledIn) -> str:
    if filled.value is None:
        return f"filled in {filled.origin}"
    if item.feature in _FLAG_WORDS:
        yes, no = _FLAG_WORDS[item.feature]
        if filled.value in (0.0, 1.0):
            return f"filled in as {(yes if filled.value else no).lower()}, {filled.origin}"
        share = _SHARE_WORDS.get(item.feature, yes.lower())
        return f"filled in with {filled.origin} ({round(100 * filled.value)}% {share})"
    decimals = _DECIMALS.get(item.feature, 0)
    value = f"{filled.value:.{decimals}f}"
    if item.unit:
        value += item.unit if item.unit == "%" else f" {item.unit}"
    return f"filled in with {value}, {filled.origin}"


def _filled_in(item: Contribution) -> FilledIn:
    if item.filled_in is not None:
        return item.filled_in
    # A model that did not say how it filled the input: its value stands, if it gave one.
    return FilledIn(item.value, "the model's value for a missing input")


def missing_words(item: Contribution) -> str:
    """Why the chart gave an input no value, in words (`reason_words`)."""
    return reason_words(item.missing_reason or NOTHING_RECORDED)


def reason_words(why: MissingReason) -> str:
    """Why an input has no value, as its record says: "not recorded" only when nothing was;
    "last recorded 2024-04-05, older than the model's 1-year window" when the value is too old
    for the model; "recorded 2026-10-01 but not usable: ..." otherwise."""
    when = "" if why.last_recorded is None else f" {why.last_recorded.isoformat()}"
    if why.absence is Absence.TOO_OLD:
        window = "" if why.window_years is None else f" {why.window_years}-year"
        return f"last recorded{when}, older than the model's{window} window"
    if why.absence is Absence.NOT_USABLE:
        return f"recorded{when} but not usable: {why.reason}"
    return "not recorded"


# The heading's word for each reason an input was filled in, in the order they are named.
_ABSENCE_WORDS = (
    (Absence.NOT_RECORDED, "not recorded"),
    (Absence.TOO_OLD, "too old"),
    (Absence.NOT_USABLE, "not usable"),
)


def _filled_heading(filled: Sequence[Contribution]) -> str:
    """ "**Not recorded or too old, filled in by the model:**", naming only the reasons present."""
    present = {(item.missing_reason or NOTHING_RECORDED).absence for item in filled}
    words = [word for absence, word in _ABSENCE_WORDS if absence in present]
    said = words[0] if len(words) < 2 else f"{', '.join(words[:-1])} or {words[-1]}"
    return f"**{said[0].upper()}{said[1:]}, filled in by the model:**"


def filled_in_text(item: Contribution) -> str:
    """A filled-in input in words: "HbA1c: not recorded, filled in with 5.6%, the average ..."."""
    name = _FILLED_NAMES.get(item.feature, item.label)
    return f"{name}: {missing_words(item)}, {_filled_value(item, _filled_in(item))}"


def missing_lines(estimate: RiskEstimate, consequence: str = "") -> list[str]:
    """The inputs the chart did not give (or gave too old or unusable), what the model filled
    in for each, and its push; then `consequence`, what that means for this model ("the risk
    may be higher"), if given."""
    parts = explained(estimate)
    if not parts.filled:
        return []
    lines = [_filled_heading(parts.filled)]
    lines.extend(
        f"- {filled_in_text(c)}: {push_words(parts.points(c.shapley), c.shapley)}"
        for c in parts.filled
    )
    return [*lines, "", *([consequence, ""] if consequence else [])]


def caveat_lines(estimate: RiskEstimate) -> list[str]:
    """How far the model's data and validation reach this patient, a paragraph each: an age
    past the data's top code, a subgroup the model serves less well (`RiskEstimate.caveats`)."""
    return [line for caveat in estimate.caveats for line in (caveat, "")]


def data_issue_lines(issues: Sequence[DataIssue]) -> list[str]:
    """The data in the chart that could not be used, in the clinician's plain words.

    The integrator's note (a FHIR path, a server's answer) is not for the clinician: it stays
    on the `DataIssue` (its loggable part goes to the service log).
    """
    if not issues:
        return []
    counts = Counter(issue.for_clinician for issue in issues)
    lines = ["**Data in the chart that could not be used:**"]
    for text, count in list(counts.items())[:MAX_DATA_ISSUES]:
        lines.append(f"- {text}" + (f" ({count} entries)" if count > 1 else ""))
    if len(counts) > MAX_DATA_ISSUES:
        lines.append(f"- and {len(counts) - MAX_DATA_ISSUES} more")
    return [*lines, ""]


def dated(value: float, unit: str, when: date, decimals: int = 1) -> str:
    """A value with its unit and date, as cited in a summary."""
    return f"{value:.{decimals}f}{unit} on {when.isoformat()}"
