"""The shipped model cards: every plot they show is written and served, and they say what
each estimate is of (issue 16, items 7, 11 and 12; the global explanations drawn with shap)."""

from __future__ import annotations

import re

import pytest

from models.model_card_files import CARDS_DIRECTORY, PLOTS
from models.registry import SHIPPED_DIRECTORY
from models.risk_models import LEARNED_MODELS

CARDS = SHIPPED_DIRECTORY / CARDS_DIRECTORY


@pytest.mark.parametrize("name", [spec.name for spec in LEARNED_MODELS])
def test_every_plot_a_card_shows_is_written_and_served(name: str) -> None:
    text = (CARDS / f"{name}.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    # The service serves exactly the PLOTS of each learned model (cds_service/web/model_cards).
    assert sorted(shown) == sorted(f"{name}-{plot}.png" for plot in PLOTS)
    for filename in shown:
        assert (CARDS / filename).stat().st_size > 0


@pytest.mark.parametrize("name", [spec.name for spec in LEARNED_MODELS])
def test_each_card_says_what_it_estimates_and_how_it_was_chosen(name: str) -> None:
    text = (CARDS / f"{name}.md").read_text(encoding="utf-8")
    assert "**Estimates**, from data an EHR routinely holds, the probability" in text
    assert "one standard error" in text
    assert "| subgroup | n | events | AUROC | calibration slope | calibration intercept |" in text
    assert "age band: 80 and over (top-coded)" in text
    assert "Mean |SHAP| (log-odds) by subgroup" in text


def test_the_blood_pressure_card_narrows_its_claim_to_what_the_data_holds() -> None:
    """Issue 16, item 11: the survey file cannot set the diagnosed and treated apart."""
    text = (CARDS / "hypertension-unmeasured.md").read_text(encoding="utf-8")
    assert "## The population the card serves, and what the data can give" in text
    assert "treated or not" in text
    assert "BPQ_J" in text
