"""The home blood pressure card: white-coat and masked hypertension, and their treated
counterparts, from a home series read as ACC/AHA 2017 asks (section 4.2, Tables 11 and 12,
Figures 2 and 3); an incomplete series says what it lacks.

Charts are FHIR resources read by the real adapter (`fhir_charts`, `home_bp_charts`). The
golden files hold the home card alone (`home-bp-*`); docs/cards.md says who it excludes.
"""

from __future__ import annotations

from typing import Any

import pytest
from card_rules import check_card
from fhir_charts import blood_pressure, chart, icd10_condition, medication, pregnancy
from golden_cards import HOOK_INSTANCE, advise, check_golden
from home_bp_charts import MORNING, home_week

from cards.card_parts import IssuedCard
from cards.home_blood_pressure import home_blood_pressure_cards
from cards.policy import NO_HISTORY, FeedbackHistory
from fhir_adapters.patient_record import PatientRecord
from models.registry import load_risk_models

OFFICE_RAISED = (blood_pressure(142, 88, days=20), blood_pressure(142, 88, days=50))
OFFICE_NORMAL = (blood_pressure(124, 76, days=20), blood_pressure(124, 76, days=50))
AMLODIPINE = medication("amlodipine 5 MG Oral Tablet")


def home_cards(record: PatientRecord, history: FeedbackHistory = NO_HISTORY) -> list[IssuedCard]:
    cards = list(home_blood_pressure_cards(record, history, HOOK_INSTANCE))
    for item in cards:
        check_card(item.card.to_json(), "p1")
    return cards


def only_card(*resources: dict[str, Any], **who: Any) -> IssuedCard:
    (card,) = home_cards(chart(*resources, **who))
    return card


def golden(name: str, card: IssuedCard, update: bool) -> None:
    check_golden(name, {"hypertension-risk": [card]}, "p1", update)


def test_white_coat_hypertension_untreated(update_golden: bool) -> None:
    """ACC/AHA 2017, Figure 2: office 130/80 or more, home below 130/80 (24 readings on 6
    days): white-coat hypertension; no drug on the office readings, yearly out-of-office
    monitoring."""
    card = only_card(*OFFICE_RAISED, *home_week(124, 76))
    assert card.card_type == "home-bp-white-coat"
    assert card.card.indicator.value == "info"
    assert "white-coat hypertension" in card.card.summary
    assert "124/76" in card.card.summary
    assert "142/88" in card.card.summary
    assert "24 readings on 6 days" in (card.card.detail or "")
    assert not card.card.suggestions
    golden("home-bp-white-coat-untreated", card, update_golden)


def test_masked_hypertension_untreated(update_golden: bool) -> None:
    """ACC/AHA 2017, Figure 2: office below 130/80, home 130/80 or more: masked hypertension,
    confirmed by ambulatory monitoring."""
    card = only_card(*OFFICE_NORMAL, *home_week(134, 84))
    assert card.card_type == "home-bp-masked"
    assert card.card.indicator.value == "warning"
    assert "masked hypertension" in card.card.summary
    assert set(card.suggestion_kinds.values()) == {"home-bp-ambulatory-confirmation"}
    # 134/84 at home corresponds to office stage 1 (Table 11: home 130/80 = office 130/80).
    assert "office stage 1 range" in (card.card.detail or "")
    golden("home-bp-masked-untreated", card, update_golden)


def test_an_incomplete_series_says_what_is_missing(update_golden: bool) -> None:
    """ACC/AHA 2017, Table 12 (mornings and evenings, a week); ESH (Parati 2010): at least 12
    readings on 3 days. Three days of morning readings, the first left out: 4 readings on 2
    days, no evening reading."""
    card = only_card(*OFFICE_RAISED, *home_week(142, 90, range(3, 0, -1), (MORNING,)))
    assert card.card_type == "home-bp-incomplete"
    assert card.card.indicator.value == "info"
    assert card.card.summary == (
        "Home BP: 4 readings on 2 days, not yet a series: needs 8 more readings, "
        "readings on 1 more day, evening readings"
    )
    # The mean so far is not read against the threshold.
    assert "white-coat" not in card.card.summary
    assert "masked" not in card.card.summary
    golden("home-bp-incomplete-series", card, update_golden)


def test_home_above_135_85_confirms_office_142_92_sustained(update_golden: bool) -> None:
    """ACC/AHA 2017, Table 11: home 135/85 corresponds to office 140/90; office readings are
    confirmed out of the office before diagnosis (section 4.2): sustained hypertension."""
    office = (blood_pressure(142, 92, days=20), blood_pressure(142, 92, days=50))
    card = only_card(*office, *home_week(138, 87))
    assert card.card_type == "home-bp-sustained"
    assert card.card.indicator.value == "warning"
    assert "confirms office 142/92" in card.card.summary
    assert "corresponds to the office stage 2 range" in (card.card.detail or "")
    assert "home 135/85 = office 140/90" in (card.card.detail or "")
    golden("home-bp-sustained-135-85", card, update_golden)


def test_treated_home_at_goal_office_above_is_a_white_coat_effect(update_golden: bool) -> None:
    """ACC/AHA 2017, Figure 3: on treatment, office above the 130/80 goal and home below it is
    the white-coat effect, not "white-coat hypertension"; the card names the drug."""
    card = only_card(AMLODIPINE, *OFFICE_RAISED, *home_week(124, 76))
    assert card.card_type == "home-bp-white-coat-effect"
    assert card.card.indicator.value == "info"
    assert "white-coat effect" in card.card.summary
    assert "amlodipine" in card.card.summary
    assert "white-coat hypertension" not in card.card.summary + (card.card.detail or "")
    golden("home-bp-treated-white-coat-effect", card, update_golden)


def test_treated_office_at_goal_home_above_is_masked_uncontrolled() -> None:
    """ACC/AHA 2017, Figure 3: masked uncontrolled hypertension."""
    card = only_card(AMLODIPINE, *OFFICE_NORMAL, *home_week(134, 84))
    assert card.card_type == "home-bp-masked-uncontrolled"
    assert "masked uncontrolled hypertension" in card.card.summary
    assert "masked hypertension" not in card.card.summary


def test_diagnosed_untreated_office_at_goal_home_above_is_masked_uncontrolled() -> None:
    """ACC/AHA 2017: the 130/80 goal holds for diagnosed hypertension (section 8.1.5), and
    Figure 3 reads office and home against it; no drug to name."""
    diagnosed = icd10_condition("I10", "Essential hypertension")
    card = only_card(diagnosed, *OFFICE_NORMAL, *home_week(134, 84))
    assert card.card_type == "home-bp-masked-uncontrolled"
    assert card.card.summary.startswith("Hypertension diagnosed: home BP 134/84 mmHg above goal")
    assert "no antihypertensive is on record" in (card.card.detail or "")


def test_home_readings_alone_at_130_80_ask_for_an_office_reading() -> None:
    """ACC/AHA 2017, Table 11: home 130/80 = office 130/80; the discordances need both."""
    card = only_card(*home_week(134, 84))
    assert card.card_type == "home-bp-home-only"
    assert set(card.suggestion_kinds.values()) == {"bp-measurement"}


@pytest.mark.parametrize(
    ("resources", "who"),
    [
        ((*OFFICE_NORMAL, *home_week(124, 76)), {}),  # both below 130/80: nothing to add
        ((*OFFICE_RAISED,), {}),  # no home readings
        ((*home_week(124, 76),), {}),  # home alone, below 130/80
        # An incomplete series a month old: taken as abandoned.
        ((*OFFICE_RAISED, *home_week(124, 76, range(30, 27, -1))), {}),
        # AAP 2017 does not diagnose from home readings (ambulatory monitoring confirms).
        ((*OFFICE_RAISED, *home_week(124, 76)), {"age": 15}),
        # ACOG Practice Bulletin 222 reads pregnancy's pressures, not these thresholds.
        ((pregnancy(), *OFFICE_RAISED, *home_week(124, 76)), {}),
    ],
    ids=[
        "concordant",
        "no home",
        "home only normal",
        "abandoned",
        "age 15",
        "pregnant",
    ],
)
def test_no_card(resources: tuple[Any, ...], who: dict[str, Any]) -> None:
    assert home_cards(chart(*resources, **who)) == []


def test_an_overridden_card_is_held_back() -> None:
    record = chart(*OFFICE_NORMAL, *home_week(134, 84))
    history = FeedbackHistory(overridden={"home-bp-masked": None})
    assert home_cards(record, history) == []
    accepted = FeedbackHistory(accepted=frozenset({"home-bp-ambulatory-confirmation"}))
    (card,) = home_cards(record, accepted)
    assert not card.card.suggestions


def test_the_hypertension_service_gives_the_home_card_beside_its_office_card() -> None:
    """The `hypertension-risk` service adds the home card to the office readings' card
    (ACC/AHA 2017, section 4.2: office and home read side by side)."""
    models = load_risk_models()
    cards = advise(models, chart(*OFFICE_RAISED, *home_week(124, 76)))
    types = [item.card_type for item in cards["hypertension-risk"]]
    assert types[-1] == "home-bp-white-coat"
    assert advise(models, chart(*OFFICE_RAISED))["hypertension-risk"]
    assert "home-bp" not in " ".join(
        item.card_type for item in advise(models, chart(*OFFICE_RAISED))["hypertension-risk"]
    )


def test_a_home_mean_just_below_130_80_is_never_shown_as_130_80() -> None:
    """Issue 16, item 5: a mean of 129.6/79.6 is below ACC/AHA's 130/80 and is written so."""
    card = only_card(*OFFICE_RAISED, *home_week(129.6, 79.6))
    assert card.card_type == "home-bp-white-coat"
    assert "Home BP 129.6/79.6 mmHg below 130/80" in card.card.summary


# With no office reading in the year but a proper home series, the series answers the question:
# no "X% likely 130/80 or higher if measured" estimate and no "measure blood pressure" card
# beside it (ACC/AHA 2017 section 4.2: home monitoring confirms or excludes hypertension).
@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ((*home_week(140, 88),), ["home-bp-home-only"]),
        ((*home_week(118, 74),), []),  # home below 120/80: nothing to add
        ((AMLODIPINE, *home_week(138, 86)), ["home-bp-home-only"]),  # treated, above goal
        ((AMLODIPINE, *home_week(122, 76)), []),  # treated, at goal at home
    ],
)
def test_a_home_series_stands_in_for_the_missing_office_reading(
    resources: tuple[dict[str, Any], ...], expected: list[str]
) -> None:
    cards = advise(load_risk_models(), chart(*resources))["hypertension-risk"]
    assert [card.card_type for card in cards] == expected
