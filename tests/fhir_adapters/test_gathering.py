"""Gathering: prefetch first, then pages from the server, within a budget and a page cap.

These tests hand the fetcher an in-process transport to shape pages and failures exactly;
`test_fhir_server_records.py` does the same against a real FHIR server.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from fhir_adapters.fhir_server import FhirAccess, FhirFetcher
from fhir_adapters.gathering import FETCH_FAILED, NO_ACCESS, PatientDataGatherer
from fhir_adapters.prefetch import InvalidPrefetch, PrefetchTemplate

BASE = "http://fhir.example.test/r4"
ACCESS = FhirAccess(BASE, "secret-token", "p1")
CONTEXT = {"patientId": "p1", "userId": "Practitioner/u1"}
PATIENT = PrefetchTemplate("patient", "Patient/{{context.patientId}}")
OBSERVATIONS = PrefetchTemplate(
    "observations", "Observation?patient={{context.patientId}}&code=http://loinc.org|4548-4"
)
NOTES = PrefetchTemplate("notes", "DocumentReference?patient={{context.patientId}}")
Handler = Callable[[httpx.Request], httpx.Response]


def observation(number: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{number}",
        "subject": {"reference": "Patient/p1"},
    }


def page(numbers: range, next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": observation(n)} for n in numbers],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def paged_server(pages: int, per_page: int = 2) -> tuple[Handler, list[str]]:
    """A search of `pages` pages, linked by absolute next URLs, and the URLs it was asked."""
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        assert request.headers["Authorization"] == "Bearer secret-token"
        if request.url.path.endswith("/Patient/p1"):
            return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})
        number = int(request.url.params.get("page", "0"))
        following = f"{BASE}/Observation?patient=p1&page={number + 1}"
        first = number * per_page
        return httpx.Response(
            200,
            json=page(range(first, first + per_page), following if number + 1 < pages else None),
        )

    return handle, asked


# The budget of each call: generous, since the server answers at once (the fault tests time it).
BUDGET = 5.0


@pytest.fixture
def gatherer_for() -> Iterator[Callable[..., PatientDataGatherer]]:
    clients: list[httpx.Client] = []
    with ThreadPoolExecutor(4) as pool:

        def make(handler: Handler, max_pages: int = 10) -> PatientDataGatherer:
            client = httpx.Client(transport=httpx.MockTransport(handler))
            clients.append(client)
            return PatientDataGatherer(FhirFetcher(client, pool, max_pages=max_pages))

        yield make
    for client in clients:
        client.close()


def ids(resources: Any) -> list[str]:
    return [resource["id"] for resource in resources]


def test_every_page_is_read(gatherer_for: Callable[..., PatientDataGatherer]) -> None:
    handler, asked = paged_server(pages=3)
    gathered = gatherer_for(handler).gather((PATIENT, OBSERVATIONS), None, CONTEXT, ACCESS, BUDGET)

    assert ids(gathered.resources["observations"]) == ["o0", "o1", "o2", "o3", "o4", "o5"]
    assert ids(gathered.resources["patient"]) == ["p1"]
    assert len(asked) == 4
    assert gathered.unavailable == gathered.incomplete == {}


def test_a_prefetched_first_page_is_completed_from_the_server(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    handler, asked = paged_server(pages=3)
    prefetch = {"observations": page(range(2), f"{BASE}/Observation?patient=p1&page=1")}
    gathered = gatherer_for(handler).gather((OBSERVATIONS,), prefetch, CONTEXT, ACCESS, BUDGET)

    assert ids(gathered.resources["observations"]) == ["o0", "o1", "o2", "o3", "o4", "o5"]
    assert [url.split("page=")[1] for url in asked] == ["1", "2"]


def test_without_access_a_prefetched_first_page_is_kept_and_marked_incomplete(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    handler, asked = paged_server(pages=3)
    prefetch = {"observations": page(range(2), f"{BASE}/Observation?patient=p1&page=1")}
    gathered = gatherer_for(handler).gather((OBSERVATIONS,), prefetch, CONTEXT, None, BUDGET)

    assert ids(gathered.resources["observations"]) == ["o0", "o1"]
    assert "only the first page was prefetched" in gathered.incomplete["observations"]
    assert asked == []


def test_the_page_cap_stops_reading_and_says_so(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    handler, asked = paged_server(pages=50)
    gathered = gatherer_for(handler, max_pages=3).gather(
        (OBSERVATIONS,), None, CONTEXT, ACCESS, BUDGET
    )

    assert len(gathered.resources["observations"]) == 6
    assert len(asked) == 3
    assert gathered.incomplete == {"observations": "more pages than the page cap allows"}


def test_a_first_page_only_template_does_not_follow_next(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    handler, asked = paged_server(pages=5)
    recent = PrefetchTemplate("observations", OBSERVATIONS.query, all_pages=False)
    gathered = gatherer_for(handler).gather((recent,), None, CONTEXT, ACCESS, BUDGET)

    assert ids(gathered.resources["observations"]) == ["o0", "o1"]
    assert len(asked) == 1
    assert gathered.incomplete == {}


def test_a_failing_later_page_keeps_the_earlier_ones(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    paged, _ = paged_server(pages=3)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "2":
            return httpx.Response(500)
        return paged(request)

    gathered = gatherer_for(handler).gather((OBSERVATIONS,), None, CONTEXT, ACCESS, BUDGET)
    assert ids(gathered.resources["observations"]) == ["o0", "o1", "o2", "o3"]
    assert gathered.incomplete == {
        "observations": "a later page could not be read: the FHIR server answered 500"
    }


def test_a_next_link_off_the_server_is_not_followed_with_the_token(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json=page(range(2), "http://elsewhere.example/steal?page=1"))

    gathered = gatherer_for(handler).gather((OBSERVATIONS,), None, CONTEXT, ACCESS, BUDGET)
    # Sent percent-encoded (fhir_adapters/fhir_query.py), and only the query the key asked for.
    assert asked == [f"{BASE}/Observation?patient=p1&code=http%3A%2F%2Floinc.org%7C4548-4"]
    assert ids(gathered.resources["observations"]) == ["o0", "o1"]
    assert "outside the FHIR server" in gathered.incomplete["observations"]


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(401), "refused the token (401)"),
        (httpx.Response(500), "answered 500"),
        (httpx.Response(200, content=b'{"resourceType": "Bundle", "entry": ['), "not JSON"),
        (httpx.Response(200, json={"resourceType": "Patient"}), "not a Bundle"),
        (httpx.Response(200, json={"resourceType": "Bundle", "entry": [{}]}), "entry[0]"),
    ],
)
def test_server_failures_make_a_key_unavailable(
    gatherer_for: Callable[..., PatientDataGatherer],
    response: httpx.Response,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="fhir_adapters.gathering")
    gathered = gatherer_for(lambda _: response).gather(
        (OBSERVATIONS,), None, CONTEXT, ACCESS, BUDGET
    )
    assert "observations" not in gathered.resources
    # Every fault reads the same to the caller (what listens at an address is not told); the
    # reason is for the integrator, in the log.
    assert gathered.unavailable["observations"] == FETCH_FAILED
    assert reason in caplog.text


def test_a_refused_fhir_server_reads_as_a_failed_fetch(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    handler, asked = paged_server(pages=1)
    gathered = gatherer_for(handler).gather(
        (PATIENT,), {}, CONTEXT, None, BUDGET, access_refused=True
    )
    assert gathered.unavailable == {"patient": FETCH_FAILED}
    assert asked == []


def test_no_access_means_unavailable_with_no_request(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    handler, asked = paged_server(pages=1)
    gathered = gatherer_for(handler).gather((PATIENT,), {}, CONTEXT, None, BUDGET)
    assert gathered.unavailable == {"patient": NO_ACCESS}
    assert asked == []


def test_null_prefetch_means_no_data_and_no_request(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    handler, asked = paged_server(pages=1)
    gathered = gatherer_for(handler).gather(
        (OBSERVATIONS,), {"observations": None}, CONTEXT, ACCESS, BUDGET
    )
    assert gathered.resources == {"observations": ()}
    assert asked == []


def test_a_malformed_prefetch_bundle_is_the_callers_error(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    handler, _ = paged_server(pages=1)
    bad = {"observations": {"resourceType": "Bundle", "entry": [{"resource": "x"}]}}
    with pytest.raises(InvalidPrefetch, match=r"entry\[0\] holds no FHIR resource"):
        gatherer_for(handler).gather((OBSERVATIONS,), bad, CONTEXT, ACCESS, BUDGET)


def test_url_attachments_are_read_from_the_server_only(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    asked: list[str] = []
    text = base64.b64encode(b"No pneumothorax.").decode()

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json={"resourceType": "Binary", "data": text})

    def note(nid: str, url: str) -> dict[str, Any]:
        return {"resourceType": "DocumentReference", "id": nid,
                "subject": {"reference": "Patient/p1"},
                "content": [{"attachment": {"contentType": "text/plain", "url": url}}]}  # fmt: skip

    prefetch = {
        "notes": {
            "resourceType": "Bundle",
            "entry": [
                {"resource": note("n1", "Binary/b1")},
                {"resource": note("n2", f"{BASE}/Binary/b2")},
                {"resource": note("n3", "https://cdn.example/b3")},
            ],
        }
    }
    gathered = gatherer_for(handler).gather((NOTES,), prefetch, CONTEXT, ACCESS, BUDGET)
    assert sorted(asked) == ["/r4/Binary/b1", "/r4/Binary/b2"]
    assert set(gathered.attachments) == {"Binary/b1", f"{BASE}/Binary/b2"}
    assert "outside the FHIR server" in gathered.attachment_errors["https://cdn.example/b3"]


def test_resources_of_another_patient_are_left_out(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    handler, _ = paged_server(pages=1)

    def owned(number: int, patient: str) -> dict[str, Any]:
        return {**observation(number), "subject": {"reference": patient}}

    prefetch = {
        "patient": {"resourceType": "Patient", "id": "p1"},
        "observations": {
            "resourceType": "Bundle",
            "entry": [
                {"resource": owned(1, "Patient/p1")},
                {"resource": owned(2, f"{BASE}/Patient/p1/_history/3")},
                {"resource": owned(3, "Patient/p2")},
                {"resource": owned(4, f"{BASE}/Patient/p22")},
            ],
        },
    }
    gathered = gatherer_for(handler).gather(
        (PATIENT, OBSERVATIONS), prefetch, CONTEXT, ACCESS, BUDGET
    )
    assert ids(gathered.resources["observations"]) == ["o1", "o2"]
    assert gathered.other_patients == ("Observation/o3", "Observation/o4")
    assert [issue.for_clinician for issue in gathered.issues()] == [
        "Set aside: 2 observations naming another patient"
    ]
    assert "naming another patient" in gathered.issues()[0].reason


def test_searches_ask_for_strict_handling(
    gatherer_for: Callable[..., PatientDataGatherer],
) -> None:
    preferences: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        preferences.append(request.headers.get("Prefer", ""))
        return httpx.Response(200, json=page(range(1)))

    gatherer_for(handler).gather((OBSERVATIONS,), None, CONTEXT, ACCESS, BUDGET)
    assert preferences == ["handling=strict"]


def test_a_key_not_read_is_plain_words_for_the_clinician_and_logged_for_the_integrator(
    gatherer_for: Callable[..., PatientDataGatherer], caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 16, item 13: "the FHIR server answered 400 (`prefetch.familyHistory`)" is the
    integrator's note (log, no patient data); the clinician reads "Family history could not be
    read"."""
    family = PrefetchTemplate(
        "familyHistory", "FamilyMemberHistory?patient={{context.patientId}}", required=False
    )
    with caplog.at_level("INFO", logger="fhir_adapters.gathering"):
        gathered = gatherer_for(lambda _: httpx.Response(400)).gather(
            (family,), None, CONTEXT, ACCESS, BUDGET
        )
    (issue,) = gathered.issues()
    assert issue.for_clinician == "Family history could not be read"
    assert "prefetch" not in issue.for_clinician
    assert "400" not in issue.for_clinician
    assert issue.for_integrator.startswith("prefetch.familyHistory: not prefetched")
    assert "answered 400" in issue.for_integrator
    logged = [record.getMessage() for record in caplog.records]
    assert any("prefetch.familyHistory unavailable" in m and "answered 400" in m for m in logged)
    # No patient id, token or URL in the log line.
    assert not any("p1" in m or "secret-token" in m or BASE in m for m in logged)
