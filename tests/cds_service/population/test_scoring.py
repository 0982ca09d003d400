"""A patient scored from an export gets what `patient-view` answers for the same chart.

The hook call's prefetch is built by `bench/load.py`'s `chart_prefetch`, the batch's by the
population scorer's own template filling: the two agree only if the scorer answers the
discovery templates as an EHR does, and then runs the hook path's code on them.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Mint, patient_view_request
from fhir_charts import pregnancy
from hook_calls import answered_call
from support import CdssServer
from synthetic_patients import PATIENT_NAMES

from cards.card_parts import card_uuid
from cards.explanation import percent
from cds_service.managed_config import card_policy
from cds_service.population.export_files import group_by_patient, patient_of
from cds_service.population.scoring import (
    DIABETES,
    DIABETES_TREATED,
    HYPERTENSION,
    PopulationScorer,
    ServiceOutcome,
    score_export,
    work_list_columns,
)
from cds_service.population.synthetic_export import carebundle_templates, generated_patients
from cds_service.settings import Settings
from demo_ehr.patients import carebundle_patient

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from load import chart_prefetch

TODAY = datetime.now(UTC).date()
# The cards that state the estimate the row carries (the others rest on readings or results).
BANDS_OF_CARD = {
    "diabetes-risk": "diabetes",
    "blood-pressure-unmeasured": "unmeasured_blood_pressure",
    "hypertension-incidence": "hypertension_incidence",
}
ESTIMATE_CARDS = frozenset(BANDS_OF_CARD)
DEFAULT_POLICY = card_policy(Settings().cards, "http://127.0.0.1")
# Varied generated patients: together they get most card types of both services.
GENERATED_PATIENTS, GENERATED_SEED = 24, 3
ADOLESCENT_AGE = 15


@pytest.fixture(scope="module")
def scorer() -> Iterator[PopulationScorer]:
    """One scorer for the module, as one per process in a batch."""
    loaded = PopulationScorer.load()
    yield loaded
    loaded.close()


def exported_chart(bundle: dict[str, Any], patient_id: str) -> list[dict[str, Any]]:
    """The chart as a Bulk export holds it: ids, and every resource naming `Patient/{id}`."""
    chart = []
    for number, entry in enumerate(bundle["entry"]):
        resource = {"id": f"r{number}", **entry["resource"]}
        if resource["resourceType"] == "Patient":
            resource["id"] = patient_id
        for element in ("subject", "patient"):
            if element in resource:
                resource[element] = {"reference": f"Patient/{patient_id}"}
        chart.append(resource)
    # The Patient first, as the scorer's callers and `chart_prefetch` find it.
    return sorted(chart, key=lambda resource: resource["resourceType"] != "Patient")


def assert_same_answer(outcome: ServiceOutcome, body: dict[str, Any], hook_instance: str) -> None:
    """The row's cards and estimate are the ones the hook call answered."""
    cards = body["cards"]
    expected = (outcome.card_type, *outcome.further_cards) if outcome.card_type else ()
    assert [card["uuid"] for card in cards] == [card_uuid(hook_instance, t) for t in expected]
    if outcome.card_type is None:
        return
    card = cards[0]
    assert card["summary"] == outcome.summary
    assert card["indicator"] == outcome.indicator
    assert tuple(s["label"] for s in card.get("suggestions", [])) == outcome.suggested_actions
    if outcome.card_type in ESTIMATE_CARDS:
        text = card["summary"] + card.get("detail", "")
        assert outcome.probability is not None
        assert percent(outcome.probability) in text
        # The band is the one the server's (default) policy puts that percentage in.
        bands = getattr(DEFAULT_POLICY, BANDS_OF_CARD[outcome.card_type])
        assert outcome.band == bands.band(outcome.probability).word


def assert_hook_agrees(
    server: CdssServer, mint: Mint, scorer: PopulationScorer, chart: list[dict[str, Any]]
) -> list[str | None]:
    """Score the chart and call both services for it; the row's card types (they agree)."""
    patient_id = chart[0]["id"]
    row = scorer.score(patient_id, chart, TODAY)
    _, prefetch = chart_prefetch({"entry": [{"resource": r} for r in chart]})
    for service_id, outcome in ((DIABETES, row.diabetes), (HYPERTENSION, row.hypertension)):
        body = patient_view_request(patient_id, prefetch=prefetch)
        answer = answered_call(server, mint, f"/cds-services/{service_id}", body).json()
        assert_same_answer(outcome, answer, body["hookInstance"])
    return [row.diabetes.card_type, row.hypertension.card_type]


@pytest.mark.parametrize("name", PATIENT_NAMES)
def test_a_scored_patient_gets_the_hook_calls_cards(
    cdss_server: CdssServer,
    mint: Mint,
    scorer: PopulationScorer,
    synthetic_patients: dict[str, dict[str, Any]],
    name: str,
) -> None:
    # A fresh id: no feedback the session's other tests gave may hold a card back.
    chart = exported_chart(synthetic_patients[name], f"pop-{uuid.uuid4()}")
    assert_hook_agrees(cdss_server, mint, scorer, chart)


def test_generated_patients_get_the_hook_calls_cards(
    cdss_server: CdssServer, mint: Mint, scorer: PopulationScorer
) -> None:
    charts = generated_patients(GENERATED_PATIENTS, GENERATED_SEED, TODAY, carebundle_templates())
    seen = set()
    for chart in charts:
        seen.update(assert_hook_agrees(cdss_server, mint, scorer, chart))
    # The comparison covered estimate cards of both services, not only silence.
    assert {"diabetes-risk", "hypertension-incidence"} <= seen


def test_the_estimate_is_the_one_the_card_states(scorer: PopulationScorer) -> None:
    # carebundle's healthy adult: estimated, and the card (if any) quotes the same percentage.
    chart = exported_chart(carebundle_patient("healthy"), "pop-healthy")
    row = scorer.score("pop-healthy", chart, TODAY)
    assert row.diabetes.probability is not None
    assert row.diabetes.band in ("low", "moderate", "high")
    assert len(row.diabetes.factors) == 3
    assert all("average adult" in factor for factor in row.diabetes.factors)


def excluded_chart(kind: str) -> list[dict[str, Any]]:
    """A carebundle chart made one of the patients the screening cards leave out."""
    patient_id = f"pop-{kind}-{uuid.uuid4()}"
    if kind == "treated":
        return exported_chart(carebundle_patient("type2_diabetes"), patient_id)
    chart = exported_chart(carebundle_patient("healthy"), patient_id)
    if kind == "pregnant":
        chart.append({**pregnancy(), "subject": {"reference": f"Patient/{patient_id}"}})
    else:  # an adolescent
        chart[0]["birthDate"] = date(TODAY.year - ADOLESCENT_AGE, 1, 1).isoformat()
    return chart


@pytest.mark.parametrize(
    ("kind", "diabetes_exclusion", "hypertension_exclusion"),
    [
        ("treated", DIABETES_TREATED, "on antihypertensive treatment"),
        ("pregnant", "not for pregnancy", "pregnant"),
        ("adolescent", "adults (18 and over)", "aged 13-17"),
    ],
)
def test_an_excluded_patient_gets_no_screening_card_as_on_the_hook_path(
    cdss_server: CdssServer,
    mint: Mint,
    scorer: PopulationScorer,
    kind: str,
    diabetes_exclusion: str,
    hypertension_exclusion: str,
) -> None:
    chart = excluded_chart(kind)
    row = scorer.score(chart[0]["id"], chart, TODAY)
    assert diabetes_exclusion in (row.diabetes.exclusion or "")
    assert hypertension_exclusion in (row.hypertension.exclusion or "")
    assert row.diabetes.probability is None
    assert row.diabetes.card_type is None
    assert row.hypertension.card_type not in ESTIMATE_CARDS
    assert_hook_agrees(cdss_server, mint, scorer, chart)


def by_reference(chart: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chart with each order's drug moved to a Medication resource it references, as Bulk
    exports often write them (`Medication.ndjson`, linked to no patient)."""
    converted: list[dict[str, Any]] = []
    medications = []
    for resource in chart:
        concept = resource.get("medicationCodeableConcept")
        if resource["resourceType"] == "MedicationRequest" and concept is not None:
            medication = {"resourceType": "Medication", "id": f"med-{resource['id']}"}
            medication["code"] = concept
            medications.append(medication)
            resource = {k: v for k, v in resource.items() if k != "medicationCodeableConcept"}
            resource["medicationReference"] = {"reference": f"Medication/{medication['id']}"}
        converted.append(resource)
    assert medications, "the chart has no medication order to convert"
    return [*converted, *medications]


def test_a_drug_given_by_reference_is_read_as_treated(
    cdss_server: CdssServer, mint: Mint, scorer: PopulationScorer, tmp_path: Path
) -> None:
    patient_id = f"pop-{uuid.uuid4()}"
    chart = by_reference(exported_chart(carebundle_patient("type2_diabetes"), patient_id))
    other = exported_chart(carebundle_patient("healthy"), "pop-other")
    grouped = group_by_patient([*chart, *other])
    medications = [r for r in chart if r["resourceType"] == "Medication"]
    assert all(m in grouped[patient_id] for m in medications)
    assert not any(r["resourceType"] == "Medication" for r in grouped["pop-other"])
    for resource_type in ("Patient", "MedicationRequest", "Medication", "Condition"):
        lines = [json.dumps(r) for r in [*chart, *other] if r["resourceType"] == resource_type]
        (tmp_path / f"{resource_type}.ndjson").write_text("\n".join(lines) + "\n")
    rows = {row.patient_id: row for row in score_export(tmp_path, TODAY, scorer)}
    row = rows[patient_id]
    assert row.diabetes.exclusion == DIABETES_TREATED
    assert row.hypertension.exclusion == "on antihypertensive treatment"
    # The hook call, its EHR including the referenced Medications with the orders, agrees.
    _, prefetch = chart_prefetch({"entry": [{"resource": r} for r in chart]})
    prefetch["medications"]["entry"] += [
        {"resource": m, "search": {"mode": "include"}} for m in medications
    ]
    for service_id, outcome in ((DIABETES, row.diabetes), (HYPERTENSION, row.hypertension)):
        body = patient_view_request(patient_id, prefetch=prefetch)
        answer = answered_call(cdss_server, mint, f"/cds-services/{service_id}", body).json()
        assert_same_answer(outcome, answer, body["hookInstance"])


def test_another_patients_resources_do_not_count(scorer: PopulationScorer) -> None:
    mine = exported_chart(carebundle_patient("healthy"), "pop-mine")
    theirs = exported_chart(carebundle_patient("type2_diabetes"), "pop-theirs")
    unlinked = [{k: v for k, v in r.items() if k != "subject"} for r in theirs[1:]]
    charts = group_by_patient([*mine, *theirs, *unlinked])
    assert sorted(charts) == ["pop-mine", "pop-theirs"]
    # Practitioner and Encounter name no patient: no one's chart holds them.
    linked = [r for r in mine if r["resourceType"] not in ("Practitioner", "Encounter")]
    assert charts["pop-mine"] == linked
    assert all(patient_of(r) is None for r in unlinked if r["resourceType"] != "Patient")
    # Handed the other patient's resources too, the scorer reads only its own patient's.
    mixed = scorer.score("pop-mine", [*mine, *theirs], TODAY)
    alone = scorer.score("pop-mine", mine, TODAY)
    assert mixed == alone
    assert mixed.diabetes.exclusion is None


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Patient/p1", "p1"),
        ("Patient/p1/_history/2", "p1"),
        ("urn:uuid:0f0e", None),
        ("patient/p1", None),
        ("Group/g1", None),
    ],
)
def test_patient_links(reference: str, expected: str | None) -> None:
    resource = {"resourceType": "Observation", "subject": {"reference": reference}}
    assert patient_of(resource) == expected


# carebundle's healthy adult: born 1979-04-06, female, one HbA1c and one office blood pressure
# panel, both taken on 2026-01-01.
HEALTHY_MEASURED = date(2026, 1, 1)


@pytest.mark.parametrize(
    ("as_of", "age", "newest", "recent"),
    [
        (date(2026, 6, 1), 47, HEALTHY_MEASURED, True),
        (date(2026, 4, 5), 46, HEALTHY_MEASURED, True),
        # 365 days on, the last day of the window; one more and the results are not recent.
        (date(2027, 1, 1), 47, HEALTHY_MEASURED, True),
        (date(2027, 1, 2), 47, HEALTHY_MEASURED, False),
        # Before the tests were taken, the record has none yet.
        (date(2025, 12, 31), 46, None, False),
    ],
)
def test_the_row_says_age_sex_and_when_hba1c_and_bp_were_last_taken(
    scorer: PopulationScorer, as_of: date, age: int, newest: date | None, recent: bool
) -> None:
    chart = exported_chart(carebundle_patient("healthy"), "pop-facts")
    row = scorer.score("pop-facts", chart, as_of)
    assert row.facts.age_years == age
    assert row.facts.sex == "female"
    assert row.facts.newest_hba1c == newest
    assert row.facts.newest_office_blood_pressure == newest
    assert row.facts.hba1c_in_12_months is recent
    assert row.facts.office_blood_pressure_in_12_months is recent
    flat = row.flat()
    assert flat["newest_hba1c_date"] == (newest.isoformat() if newest else None)
    assert flat["office_bp_in_12_months"] is recent


def test_a_chart_without_hba1c_or_office_bp_is_flagged(scorer: PopulationScorer) -> None:
    chart = exported_chart(carebundle_patient("healthy"), "pop-unmeasured")
    hba1c_and_bp = {"4548-4", "85354-9", "8480-6", "8462-4"}
    kept = [
        r
        for r in chart
        if r["resourceType"] != "Observation" or r["code"]["coding"][0]["code"] not in hba1c_and_bp
    ]
    assert len(kept) < len(chart)
    flat = scorer.score("pop-unmeasured", kept, date(2026, 6, 1)).flat()
    assert flat["newest_hba1c_date"] is None
    assert flat["newest_office_bp_date"] is None
    assert flat["hba1c_in_12_months"] is False
    assert flat["office_bp_in_12_months"] is False


KIND_OF_VALUE = {str: "text", float: "decimal", int: "integer", bool: "flag"}


def test_the_declared_columns_are_the_rows_columns(scorer: PopulationScorer) -> None:
    charts = generated_patients(GENERATED_PATIENTS, GENERATED_SEED, TODAY, carebundle_templates())
    rows = [scorer.score(chart[0]["id"], chart, TODAY).flat() for chart in charts]
    columns = work_list_columns()
    assert all([name for name, _ in columns] == list(row) for row in rows)
    kinds = dict(columns)
    assert set(kinds.values()) <= set(KIND_OF_VALUE.values())
    seen: dict[str, set[str]] = {name: set() for name in kinds}
    for row in rows:
        for name, value in row.items():
            if value is not None:
                seen[name].add(KIND_OF_VALUE[type(value)])
    # Every column held a value in some row, each of the column's kind.
    assert all(seen[name] == {kind} for name, kind in kinds.items())
