"""Hook calls and the SMART page's gathering through a front that forwards as the SMART launcher's
proxy does (tests/launcher_proxy.py): it collapses every `//` of the URL, query included, so the
service's searches must reach the FHIR server with their code systems' `//` encoded."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from card_rules import check_response, without_uuids
from conftest import Mint, patient_view_request
from fhir_servers import SekmetServer
from launcher_proxy import LauncherProxy
from support import CdssServer

from cds_service.smart.detail import PAGE_TEMPLATES
from fhir_adapters.fhir_server import FhirAccess, FhirFetcher, SearchRequest
from fhir_adapters.gathering import GatheredData, PatientDataGatherer

DIABETES_PATH = "/cds-services/diabetes-risk"
# A budget no machine misses for a small chart: the test is about what arrives, not when.
BUDGET_SECONDS = 10.0
LOINC = "http://loinc.org"
LOINC_HBA1C = "4548-4"
LOINC_BMI = "39156-5"
UCUM = "http://unitsofmeasure.org"
# How the service's code searches look on the wire once encoded, and as the launcher would
# have made them unencoded.
ENCODED_LOINC_SYSTEM = "http%3A%2F%2Floinc.org%7C"
COLLAPSED_LOINC_SYSTEM = "http:/loinc.org|"


def hba1c_chart() -> dict[str, Any]:
    """A transaction Bundle: a man of 62, undiagnosed, with a BMI and one HbA1c of 7.2% (the
    diabetes range, not yet confirmed) a month ago."""
    today = datetime.now(UTC).date()
    patient_urn = f"urn:uuid:{uuid.uuid4()}"
    patient = {"resourceType": "Patient", "gender": "male",
               "birthDate": date(today.year - 62, 1, 15).isoformat()}  # fmt: skip

    def observation(code: str, value: float, unit: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": patient_urn},
            "effectiveDateTime": (today - timedelta(days=30)).isoformat(),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }

    resources = [observation(LOINC_HBA1C, 7.2, "%"), observation(LOINC_BMI, 31.0, "kg/m2")]
    entries = [{"fullUrl": patient_urn, "resource": patient}]
    entries += [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r} for r in resources]
    for entry in entries:
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


@pytest.fixture(scope="module")
def hba1c_patient(fhir_server: SekmetServer) -> str:
    """The id of `hba1c_chart()`'s patient on the FHIR server."""
    return fhir_server.load(hba1c_chart())


@pytest.fixture(scope="module")
def launcher(fhir_server: SekmetServer) -> Iterator[LauncherProxy]:
    """The launcher's FHIR proxy in front of the suite's FHIR server, with a token of its own."""
    with LauncherProxy(
        fhir_server.base_url,
        upstream_token=fhir_server.access_token,
        access_token=secrets.token_urlsafe(16),
    ) as front:
        yield front


@pytest.fixture
def proxy(launcher: LauncherProxy) -> LauncherProxy:
    """The module's launcher front, with no requests seen when a test starts."""
    launcher.requests_seen.clear()
    return launcher


@pytest.fixture(scope="module")
def service(
    start_server: Callable[..., CdssServer], fhir_server: SekmetServer, launcher: LauncherProxy
) -> CdssServer:
    server: CdssServer = start_server(
        "sqlite",
        fhir_servers=[fhir_server.base_url, launcher.base_url],
        fhir={"fetch_budget_seconds": BUDGET_SECONDS},
    )
    return server


def hook_call(patient_id: str, fhir_server: str, access_token: str) -> dict[str, Any]:
    """A patient-view call with no prefetch: the service reads the chart itself."""
    body = patient_view_request(patient_id, prefetch={})
    body["fhirServer"] = fhir_server
    body["fhirAuthorization"] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.rs",
        "subject": "cds-service",
        "patient": patient_id,
    }
    return body


def diabetes_cards(service: CdssServer, mint: Mint, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = httpx.post(
        service.base_url + DIABETES_PATH,
        json=body,
        headers={"Authorization": f"Bearer {mint(service, DIABETES_PATH)}"},
        timeout=BUDGET_SECONDS + 20,
    )
    assert response.status_code == 200, response.text
    return check_response(response.json(), body["context"]["patientId"])


def card_text(cards: list[dict[str, Any]]) -> str:
    return " ".join(f"{card['summary']} {card.get('detail', '')}" for card in cards)


def test_a_hook_call_through_the_launcher_reads_the_labs(
    service: CdssServer,
    proxy: LauncherProxy,
    fhir_server: SekmetServer,
    hba1c_patient: str,
    mint: Mint,
) -> None:
    patient_id = hba1c_patient
    assert proxy.access_token is not None

    through_launcher = diabetes_cards(
        service, mint, hook_call(patient_id, proxy.base_url, proxy.access_token)
    )

    # The card of an HbA1c in the diabetes range, not the one of a chart without results.
    text = card_text(through_launcher)
    assert "7.2%" in text, text
    assert "No HbA1c" not in text
    code_searches = [query for query in proxy.forwarded_queries() if "code=" in query]
    assert code_searches, proxy.requests_seen
    for query in code_searches:
        assert ENCODED_LOINC_SYSTEM in query
        assert COLLAPSED_LOINC_SYSTEM not in query
    # The same advice as from the FHIR server read directly.
    direct = diabetes_cards(
        service, mint, hook_call(patient_id, fhir_server.base_url, fhir_server.access_token)
    )
    assert without_uuids(through_launcher) == without_uuids(direct)


def gathered(
    base_url: str, access_token: str, patient_id: str, fetcher: FhirFetcher
) -> GatheredData:
    """The SMART page's data for the patient, gathered as the page does."""
    return PatientDataGatherer(fetcher).gather(
        PAGE_TEMPLATES,
        None,
        {"patientId": patient_id},
        FhirAccess(base_url, access_token, patient_id),
        budget_seconds=BUDGET_SECONDS * 3,
    )


def loinc_codes(data: GatheredData) -> set[str]:
    return {
        coding.get("code")
        for resource in data.all_resources()
        if resource.get("resourceType") == "Observation"
        for coding in resource.get("code", {}).get("coding", [])
    }


def test_the_smart_pages_gathering_through_the_launcher_reads_the_labs(
    proxy: LauncherProxy, fhir_server: SekmetServer, hba1c_patient: str
) -> None:
    patient_id = hba1c_patient
    assert proxy.access_token is not None
    with httpx.Client() as client, ThreadPoolExecutor(4) as pool:
        fetcher = FhirFetcher(client, pool)
        through_launcher = gathered(proxy.base_url, proxy.access_token, patient_id, fetcher)
        direct = gathered(fhir_server.base_url, fhir_server.access_token, patient_id, fetcher)

    assert loinc_codes(through_launcher) == loinc_codes(direct) == {LOINC_HBA1C, LOINC_BMI}
    # (sekmet has no `patient` search on FamilyMemberHistory: unread both ways.)
    assert through_launcher.unavailable == direct.unavailable
    assert through_launcher.incomplete == direct.incomplete == {}


def test_next_links_through_the_launcher_keep_their_code_systems(
    proxy: LauncherProxy, hba1c_patient: str
) -> None:
    # One result a page: the second page is read from a `next` link the front rewrote to
    # itself, and the launcher collapses `//` in those too.
    patient_id = hba1c_patient
    assert proxy.access_token is not None
    codes = f"{LOINC}|{LOINC_HBA1C},{LOINC}|{LOINC_BMI}"
    search = f"Observation?patient={patient_id}&code={codes}&_count=1"
    with httpx.Client() as client, ThreadPoolExecutor(2) as pool:
        result = FhirFetcher(client, pool, max_pages=50).search_all(
            FhirAccess(proxy.base_url, proxy.access_token, patient_id),
            {"hba1c": SearchRequest(search, "Bundle")},
            deadline=time.monotonic() + BUDGET_SECONDS * 3,
        )["hba1c"]

    assert result.error is None
    assert result.pages == len(result.resources) == 2
    queries = proxy.forwarded_queries()
    assert len(queries) == result.pages
    assert all(ENCODED_LOINC_SYSTEM in query for query in queries), queries
