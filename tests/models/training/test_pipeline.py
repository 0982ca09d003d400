"""`cdss train` and `cdss evaluate` as a person runs them, and what the shipped models achieve.

The committed `models/shipped/metrics.json` is checked three ways: evaluating the committed
artifacts gives it again, training from scratch gives it again (to 1e-9), and its figures meet
the issue's bar (AUROC at or above every baseline on the same rows, calibration slope 0.8-1.2,
intercept within 0.2, explanations adding up to 1e-6).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import CDSS

from models.artifacts import artifact_path, read_artifact
from models.hypertension import INCIDENCE_MODEL
from models.model_card_files import CARDS_DIRECTORY, PLOTS
from models.registry import SHIPPED_DIRECTORY
from models.risk_models import LEARNED_MODELS

COMMITTED = json.loads((SHIPPED_DIRECTORY / "metrics.json").read_text())
TOLERANCE = 1e-9
# The hashes of an artifact's bytes: training on another processor gives the same model to the
# last bit or two of a float (OpenBLAS picks its kernels at run time), hence other bytes.
# Retrained artifacts are compared number by number instead.
BYTE_HASHES = frozenset({"artifact_sha256", "content_sha256"})


def _cdss(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CDSS), *args], capture_output=True, text=True, timeout=600)


def _assert_same_figures(
    found: Any, expected: Any, path: str = "", ignore: frozenset[str] = frozenset()
) -> None:
    if isinstance(expected, dict):
        assert set(found) == set(expected), path
        for key in set(expected) - ignore:
            _assert_same_figures(found[key], expected[key], f"{path}.{key}", ignore)
    elif isinstance(expected, list):
        assert len(found) == len(expected), path
        for index, (a, b) in enumerate(zip(found, expected, strict=True)):
            _assert_same_figures(a, b, f"{path}[{index}]", ignore)
    elif isinstance(expected, float):
        assert found == pytest.approx(expected, abs=TOLERANCE), path
    else:
        assert found == expected, path


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("evaluate") / "evaluation.json"
    result = _cdss("evaluate", "--json", str(out))
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def test_evaluating_the_shipped_artifacts_gives_the_committed_metrics(
    evaluation: dict[str, Any],
) -> None:
    _assert_same_figures(evaluation, COMMITTED)


def test_training_from_scratch_gives_the_same_models(tmp_path: Path) -> None:
    result = _cdss("train", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "chose" in result.stdout  # progress is shown
    retrained = json.loads((tmp_path / "metrics.json").read_text())
    _assert_same_figures(retrained, COMMITTED, ignore=BYTE_HASHES)
    for spec in LEARNED_MODELS:
        _assert_same_figures(
            json.loads(artifact_path(tmp_path, spec.name).read_text()),
            json.loads(artifact_path(SHIPPED_DIRECTORY, spec.name).read_text()),
            spec.name,
            ignore=BYTE_HASHES,
        )
        for plot in PLOTS:
            assert (tmp_path / "model-cards" / f"{spec.name}-{plot}.png").stat().st_size > 0
    # Every model card, the Parikh one too, is the one `cdss train` writes now (its artifact's
    # byte hash aside).
    for name in [*(spec.name for spec in LEARNED_MODELS), INCIDENCE_MODEL]:
        card = f"{CARDS_DIRECTORY}/{name}.md"
        assert _without_hashes((tmp_path / card).read_text()) == _without_hashes(
            (SHIPPED_DIRECTORY / card).read_text()
        ), card


def _without_hashes(text: str) -> str:
    return re.sub(r"[0-9a-f]{64}", "<sha256>", text)


@pytest.mark.parametrize("name", [spec.name for spec in LEARNED_MODELS])
def test_each_shipped_model_meets_the_bar(evaluation: dict[str, Any], name: str) -> None:
    figures = evaluation["models"][name]
    low, high = figures["auroc_ci"]
    assert low < figures["auroc"] < high
    for baseline in figures["baselines"].values():
        assert figures["auroc"] >= baseline["auroc"]
    assert 0.8 <= figures["calibration_slope"] <= 1.2
    assert abs(figures["calibration_intercept"]) <= 0.2
    assert figures["shap_additivity_max_error"] < 1e-6
    assert 0.5 < figures["auroc_minimal_inputs"]["auroc"] <= 1.0
    assert {group.split(":")[0] for group in figures["subgroups"]} == {
        "sex",
        "age band",
        "race/ethnicity",
    }


def test_the_diabetes_models_are_weighed_against_the_published_scores(
    evaluation: dict[str, Any],
) -> None:
    for name in ("diabetes-dysglycemia", "diabetes-undiagnosed"):
        assert {"ADA risk test", "FINDRISC", "logistic regression (same features)"} == set(
            evaluation["models"][name]["baselines"]
        )


def test_evaluate_refuses_an_altered_artifact(tmp_path: Path) -> None:
    altered = tmp_path / "models"
    shutil.copytree(SHIPPED_DIRECTORY, altered)
    path = artifact_path(altered, "diabetes-undiagnosed")
    document = json.loads(path.read_text())
    document["training"]["calibration"]["intercept"] += 1.0  # shift every risk upwards
    path.write_text(json.dumps(document))
    result = _cdss("evaluate", "--json", str(tmp_path / "out.json"), "--models", str(altered))
    assert result.returncode != 0
    assert "diabetes-undiagnosed" in result.stderr
    assert "altered" in result.stderr
    assert not (tmp_path / "out.json").exists()


def test_the_readme_quotes_the_committed_metrics() -> None:
    readme = (SHIPPED_DIRECTORY.parents[1] / "README.md").read_text(encoding="utf-8")
    for name, figures in COMMITTED["models"].items():
        row = re.search(rf"^\| `{name}` \|.*$", readme, re.MULTILINE)
        assert row is not None, name
        low, high = figures["auroc_ci"]
        assert f"{figures['auroc']:.3f} ({low:.3f}-{high:.3f})" in row.group(0)
        # What it estimates, and the cross-validated figure it was chosen by.
        assert "probability of" in row.group(0)
        spec = next(spec for spec in LEARNED_MODELS if spec.name == name)
        chosen = read_artifact(SHIPPED_DIRECTORY, name, spec.feature_names).training["chosen"]
        assert f"({chosen['cv_auroc']:.3f}, {chosen['cv_auroc_se']:.3f}" in row.group(0)
        assert {"logistic-regression": "logistic regression", "xgboost": "XGBoost"}[
            chosen["kind"]
        ] in row.group(0)
