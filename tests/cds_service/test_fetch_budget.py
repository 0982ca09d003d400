"""A required query that runs out of the fetch budget is named in the 412 (issue 21, item 4).

Through `cdss serve` with a FHIR server in front of sekmet that answers one search slowly: the
412's issue for the key that ran out of time has type `timeout` and names the key, the query as
the service publishes it in discovery (its `{{context.patientId}}` token unfilled), the budget in
seconds and the setting that sets it; never the patient's id, in the answer or the log. With a
longer budget, set through the admin API, the same call is answered with its card. Every other
fault still reads the uniform words. A key cut short after some of its pages is not a 412: the
log says how far its reading got.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from card_rules import check_response
from conftest import Mint
from fhir_servers import Fault, FaultyFhirServer, Reply, SekmetServer, later_page
from support import CdssServer
from test_admin_api import admin_config, bearer
from test_hooks_fhir_server import hook_call, locations, post

from fhir_adapters.fhir_server import FHIR_SERVER_UNREADABLE

BUDGET_SECONDS = 0.8  # the service's default
# The slow search answers after this long: past the default budget, within the longer one.
SLOW_SECONDS = 2.0
LONGER_BUDGET_SECONDS = 10.0
PATIENT = "carebundle-type2_diabetes"
SERVICE_ID = "hypertension-risk"
# The card this chart gets (tests/data/golden_cards): treated hypertension, no reading since
# (the drugs are named in the order the server lists them).
TREATED_UNMEASURED = "no BP since treatment began: measure to check the 130/80 goal"
# What the front answers each search's pages with, so a chart's observations take several.
SMALL_PAGE = 2


class SlowLaterPagesFront(FaultyFhirServer):
    """A faulty front that pages searches small, as many servers cap `_count`; the pages after
    the first of the resource types in `slow_later_pages` answer only after `slow_seconds`."""

    def __init__(self, upstream: SekmetServer, slow_seconds: float) -> None:
        super().__init__(upstream, slow_seconds)
        self.slow_later_pages: set[str] = set()

    def respond(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Page small, and hold the later pages of the slow types past the budget."""
        path, _, query = target.partition("?")
        resource_type = path.strip("/").split("/")[1] if path.count("/") >= 2 else ""
        if resource_type in self.slow_later_pages and later_page(query):
            self._stopping.wait(self.slow_seconds)
        if query:
            params = [p for p in query.split("&") if not p.startswith("_count=")]
            target = f"{path}?{'&'.join([*params, f'_count={SMALL_PAGE}'])}"
        return super().respond(method, target, headers, body)


@pytest.fixture(scope="module")
def admin_token() -> str:
    """A fresh admin token for this module's service."""
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def slow_front(fhir_server: SekmetServer) -> Iterator[FaultyFhirServer]:
    """A front of the FHIR server whose slow searches outlast the default budget only."""
    front = FaultyFhirServer(fhir_server, slow_seconds=SLOW_SECONDS).start()
    yield front
    front.stop()


@pytest.fixture(scope="module")
def paging_front(fhir_server: SekmetServer) -> Iterator[SlowLaterPagesFront]:
    """A front that pages small and is slow on the later pages of observations."""
    front = SlowLaterPagesFront(fhir_server, slow_seconds=SLOW_SECONDS)
    front.slow_later_pages.add("Observation")
    yield front.start()
    front.stop()


@pytest.fixture(scope="module")
def service(
    start_server: Callable[..., CdssServer],
    slow_front: FaultyFhirServer,
    paging_front: SlowLaterPagesFront,
    admin_token: str,
) -> CdssServer:
    server: CdssServer = start_server(
        "sqlite",
        fhir_servers=[slow_front.base_url, paging_front.base_url],
        fhir={"fetch_budget_seconds": BUDGET_SECONDS},
        admin=admin_config(admin_token, max_refusals=1000),
    )
    return server


@pytest.fixture
def slow(slow_front: FaultyFhirServer) -> Iterator[FaultyFhirServer]:
    """The slow front, with no faults when a test starts."""
    yield slow_front
    slow_front.faults.clear()


@pytest.fixture(scope="module")
def templates(service: CdssServer) -> dict[str, str]:
    """The service's prefetch templates, as discovery publishes them."""
    services = httpx.get(service.base_url + "/cds-services", timeout=10).json()["services"]
    prefetch: dict[str, str] = next(s["prefetch"] for s in services if s["id"] == SERVICE_ID)
    return prefetch


def call(
    service: CdssServer, mint: Mint, front: FaultyFhirServer, patient_id: str, token: str
) -> httpx.Response:
    return post(service, mint, SERVICE_ID, hook_call(patient_id, front.base_url, token))


def issues_by_key(response: httpx.Response) -> dict[str, dict[str, Any]]:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return {issue["expression"][0]: issue for issue in outcome["issue"]}


def assert_no_patient_id(service: CdssServer, response: httpx.Response, patient_id: str) -> None:
    assert patient_id not in response.text
    assert patient_id not in service.log_file.read_text()


def test_the_412_names_the_query_that_ran_out_of_the_budget(
    slow: FaultyFhirServer,
    service: CdssServer,
    templates: dict[str, str],
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    mint: Mint,
) -> None:
    slow.faults["Observation"] = Fault.SLOW
    patient_id = loaded_patients[PATIENT]

    response = call(service, mint, slow, patient_id, fhir_server.access_token)

    assert response.status_code == 412, response.text
    assert locations(response) == ["prefetch.observations"]
    issue = issues_by_key(response)["prefetch.observations"]
    assert issue["code"] == "timeout"
    said = issue["diagnostics"]
    assert said.startswith("prefetch.observations: ")
    # The query as published, with its token: an integrator finds it in discovery.
    assert "{{context.patientId}}" in templates["observations"]
    assert f"the query {templates['observations']} did not finish" in said
    assert f"within the fetch budget of {BUDGET_SECONDS:g} s" in said
    assert "nothing read by then" in said
    assert "[fhir] fetch_budget_seconds" in said
    assert "fhir.fetch_budget_seconds through the admin API" in said
    assert FHIR_SERVER_UNREADABLE not in said
    # The log says the same, for whoever runs the service.
    assert said in service.log_file.read_text()
    assert_no_patient_id(service, response, patient_id)
    assert fhir_server.access_token not in service.log_file.read_text()


def test_other_faults_beside_a_timeout_keep_the_uniform_words(
    slow: FaultyFhirServer,
    service: CdssServer,
    templates: dict[str, str],
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    mint: Mint,
) -> None:
    slow.faults["Observation"] = Fault.SLOW
    slow.faults["Condition"] = Fault.SERVER_ERROR
    slow.faults["Patient"] = Fault.UNAUTHORIZED
    patient_id = loaded_patients[PATIENT]

    response = call(service, mint, slow, patient_id, fhir_server.access_token)

    assert response.status_code == 412, response.text
    issues = issues_by_key(response)
    assert sorted(issues) == ["prefetch.conditions", "prefetch.observations", "prefetch.patient"]
    assert issues["prefetch.observations"]["code"] == "timeout"
    for key in ("prefetch.conditions", "prefetch.patient"):
        assert issues[key]["code"] == "not-found"
        assert issues[key]["diagnostics"] == f"{key}: not prefetched, and {FHIR_SERVER_UNREADABLE}"
        assert "budget" not in issues[key]["diagnostics"]
    # A 500 and a 401 read alike (the exact words above); the log tells them apart.
    log = service.log_file.read_text()
    assert "the FHIR server answered 500" in log
    assert "refused the token (401)" in log
    assert_no_patient_id(service, response, patient_id)


def test_a_longer_budget_set_through_the_admin_api_gets_the_card(
    slow: FaultyFhirServer,
    service: CdssServer,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    mint: Mint,
    admin_token: str,
) -> None:
    slow.faults["Observation"] = Fault.SLOW
    patient_id = loaded_patients[PATIENT]
    config_url = service.base_url + "/admin/config"
    longer = {"config": {"fhir": {"fetch_budget_seconds": LONGER_BUDGET_SECONDS}}}

    before = call(service, mint, slow, patient_id, fhir_server.access_token)
    changed = httpx.patch(
        config_url, json={**longer, "comment": "a slow test server"}, headers=bearer(admin_token)
    )
    try:
        after = call(service, mint, slow, patient_id, fhir_server.access_token)
    finally:
        rolled_back = httpx.post(
            config_url + "/rollback", json={"version": 0}, headers=bearer(admin_token)
        )

    assert before.status_code == 412, before.text
    assert changed.status_code == 200, changed.text
    assert rolled_back.status_code == 200, rolled_back.text
    assert after.status_code == 200, after.text
    cards = check_response(after.json(), patient_id)
    assert [card["summary"].endswith(TREATED_UNMEASURED) for card in cards] == [True]


def test_a_required_search_cut_short_after_its_first_page_answers_with_what_was_read(
    paging_front: SlowLaterPagesFront,
    service: CdssServer,
    templates: dict[str, str],
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    synthetic_patients: dict[str, dict[str, Any]],
    mint: Mint,
) -> None:
    patient_id = loaded_patients[PATIENT]
    observations = [
        entry
        for entry in synthetic_patients[PATIENT]["entry"]
        if entry["resource"]["resourceType"] == "Observation"
    ]
    assert len(observations) > SMALL_PAGE  # the search takes more than one page

    response = call(service, mint, paging_front, patient_id, fhir_server.access_token)

    # Not a 412: the key holds a page, and the service advises on what it has.
    assert response.status_code == 200, response.text
    log = service.log_file.read_text()
    assert (
        f"prefetch.observations incomplete: 1 page of the query {templates['observations']} "
        "read; the next did not finish within the fetch budget"
    ) in log
    # The card names the patient in its suggestion's subject, as it should; the log never does.
    assert patient_id not in log
