"""A risk estimate's explanation in clinical words: the factors, their values, what was missing.

A clinician should be able to check every line against the chart: each factor is shown with
its value, unit and date, in the order of how much it moved the estimate. The words "SHAP" and
"model output" never appear; the model card holds the method.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from fhir_adapters.patient_record import DataIssue
from models.prediction import Contribution, RiskEstimate

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
_DECIMALS = {"bmi": 1, "hba1c": 1}
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


def describe_value(item: Contribution) -> str:
    """One input in words: "BMI 34.2 kg/m2 (2024-03-02)" or "Current smoker"."""
    if item.value is None:
        return f"{item.label}: not recorded"
    if item.feature in _FLAG_WORDS:
        text = _FLAG_WORDS[item.feature][0 if item.value >= 0.5 else 1]
    elif item.feature == "parents_with_hypertension":
        text = f"{item.label}: {item.value:g}"
    else:
        decimals = _DECIMALS.get(item.feature, 0)
        text = f"{item.label} {item.value:.{decimals}f}"
        if item.unit:
            text += item.unit if item.unit == "%" else f" {item.unit}"
    when = [] if item.effective is None else [item.effective.isoformat()]
    if item.note:
        when.append(item.note)
    return f"{text} ({', '.join(when)})" if when else text


def missing_inputs(features: Sequence[str], conjunction: str = "and") -> str:
    """The missing inputs in clinical words, each once: "waist, HDL cholesterol and sex"."""
    words = list(
        dict.fromkeys(_FEATURE_NAMES.get(name, name.replace("_", " ")) for name in features)
    )
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def factor_lines(estimate: RiskEstimate) -> list[str]:
    """Markdown lines: the factors that raised the estimate, then those that lowered it."""
    present = [c for c in estimate.contributions if c.value is not None]
    raising = sorted(
        (c for c in present if c.shapley >= MIN_SHOWN_EFFECT), key=lambda c: -c.shapley
    )
    lowering = sorted(
        (c for c in present if c.shapley <= -MIN_SHOWN_EFFECT), key=lambda c: c.shapley
    )
    lines: list[str] = []
    for title, items in (("Raised the estimate", raising), ("Lowered the estimate", lowering)):
        if items:
            lines.append(f"**{title}:**")
            lines.extend(f"- {describe_value(c)}" for c in items[:MAX_FACTORS_EACH_WAY])
            lines.append("")
    return lines


def missing_lines(estimate: RiskEstimate, consequence: str) -> list[str]:
    """What was missing and what that means for the estimate."""
    if not estimate.missing:
        return []
    return [f"**Not recorded:** {missing_inputs(estimate.missing)}. {consequence}", ""]


def data_issue_lines(issues: Sequence[DataIssue]) -> list[str]:
    """The values in the chart that could not be used, and why (the adapter's own words)."""
    if not issues:
        return []
    lines = ["**Data in the chart that could not be used:**"]
    lines.extend(f"- {issue.reason} (`{issue.path}`)" for issue in issues[:MAX_DATA_ISSUES])
    if len(issues) > MAX_DATA_ISSUES:
        lines.append(f"- and {len(issues) - MAX_DATA_ISSUES} more")
    return [*lines, ""]


def dated(value: float, unit: str, when: date, decimals: int = 1) -> str:
    """A value with its unit and date, as cited in a summary."""
    return f"{value:.{decimals}f}{unit} on {when.isoformat()}"
