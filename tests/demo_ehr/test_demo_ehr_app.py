"""The demo EHR's views through Flask's test client: a card's Markdown and appContext on the chart,
the launch that carries appContext to the token answer, the standalone patient picker, and the
patient list of the demo's cast."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fhir_servers import SekmetServer
from flask.testing import FlaskClient

from cds_service.smart.launch import code_challenge
from demo_ehr.app import DemoEhrConfig, create_demo_ehr
from demo_ehr.authorization import APP_CONTEXT_MAX_CHARS
from demo_ehr.cast import CastLine, written_cast
from demo_ehr.chart_writer import CAST_IDENTIFIER_SYSTEM
from demo_ehr.hook_player import HookPlayer
from demo_ehr.pages import OTHER_PATIENTS, age_on

EHR_BASE = "http://demo-ehr.test"
FHIR_BASE = EHR_BASE + "/fhir"
CDS_BASE = "http://remote-cds.test"
APP_URL = CDS_BASE + "/smart/launch"
CLIENT_ID = "cdss-detail"
REDIRECT_URI = CDS_BASE + "/smart/callback"
VERIFIER = "v" * 64
CHART_PATIENT = "pat-1"
# What a remote CDS service may send: Markdown worth showing, and HTML and links that must not run.
HOSTILE_DETAIL = (
    "**Raised the estimate:**\n- BMI 31\n\n<script>alert(1)</script>\n\n"
    "[run me](javascript:alert(1)) [Model card](https://cds.example/model-cards/x)\n\n"
    "![pixel](https://tracker.example/p.gif)"
)
# Characters that would end the attribute or the parameter if they were not encoded.
APP_CONTEXT = 'diabetes-risk&patient=other"><b>'


def demo_ehr_client(
    signing_key: Mapping[str, Any],
    http: httpx.Client,
    upstream: tuple[str, str] = (CDS_BASE + "/fhir", "upstream-token"),
) -> FlaskClient:
    """The demo EHR (one SMART client, the remote service at `CDS_BASE`) as a test client."""
    config = DemoEhrConfig(
        EHR_BASE,
        *upstream,
        clients={CLIENT_ID: (REDIRECT_URI,)},
        cds_base_url=CDS_BASE,
        issuer="https://ehr.example.test",
        signing_key=signing_key,
    )
    return create_demo_ehr(config, http).test_client()


def remote_service(request: httpx.Request) -> httpx.Response:
    """A CDS service and its FHIR server, neither of them ours: one patient, one card."""
    if request.url.path == "/cds-services":
        services = [{"id": "remote", "hook": "patient-view", "title": "Remote", "prefetch": {}}]
        return httpx.Response(200, json={"services": services})
    if request.url.path == "/cds-services/remote":
        card = {
            "uuid": "card-1",
            "summary": "Remote card",
            "indicator": "info",
            "source": {"label": "Remote"},
            "detail": HOSTILE_DETAIL,
            "links": [
                {"label": "Details", "url": APP_URL, "type": "smart", "appContext": APP_CONTEXT},
                {"label": "Guideline", "url": "https://guideline.example/", "type": "absolute"},
                {"label": "Run me", "url": "JavaScript:alert(1)", "type": "absolute"},
            ],
        }
        return httpx.Response(200, json={"cards": [card]})
    if request.url.path == f"/fhir/Patient/{CHART_PATIENT}":
        return httpx.Response(200, json={"resourceType": "Patient", "id": CHART_PATIENT})
    return httpx.Response(404)


@pytest.fixture
def ehr(signing_keys: dict[str, dict[str, Any]]) -> Iterator[FlaskClient]:
    """The demo EHR in front of `remote_service`."""
    with httpx.Client(transport=httpx.MockTransport(remote_service)) as http:
        yield demo_ehr_client(signing_keys["ES384"], http)


def hrefs(page: str, css_class: str) -> list[str]:
    """The href of every link of this class, unescaped."""
    pattern = rf'<a class="{css_class}" href="([^"]*)"'
    return [html.unescape(href) for href in re.findall(pattern, page)]


def query_of(url: str) -> dict[str, list[str]]:
    """A URL's query, every value of every parameter."""
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def exchange(ehr: FlaskClient, authorize_url: str) -> dict[str, Any]:
    """Follow an authorize URL to the code, and trade the code for the token answer."""
    approved = ehr.get(authorize_url)
    assert approved.status_code == 302, approved.text
    location = approved.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    answer = ehr.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(location)["code"][0],
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "code_verifier": VERIFIER,
        },
    )
    assert answer.status_code == 200, answer.text
    token: dict[str, Any] = answer.json
    return token


def authorize_url(**parameters: str) -> str:
    """`/authorize` as the SMART app asks for it, PKCE S256 included."""
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "the-state",
        "aud": FHIR_BASE,
        "code_challenge": code_challenge(VERIFIER),
        "code_challenge_method": "S256",
        **parameters,
    }
    return f"/authorize?{urlencode(query)}"


def test_the_chart_shows_a_remote_cards_markdown_as_html_and_its_html_and_scripts_as_text(
    ehr: FlaskClient,
) -> None:
    answer = ehr.get(f"/patients/{CHART_PATIENT}")
    page = answer.text
    # A remote image in a card would tell its server who opened which chart: the page's policy
    # lets nothing load from elsewhere, and no script run.
    policy = answer.headers["Content-Security-Policy"]
    assert "img-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    detail = re.search(r'<div class="detail">(.*?)</div>', page, re.DOTALL)
    assert detail is not None, page
    shown = detail.group(1)
    assert "<strong>Raised the estimate:</strong>" in shown
    assert "<li>BMI 31</li>" in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "[run me](javascript:alert(1))" in shown
    assert '<a href="https://cds.example/model-cards/x"' in shown
    assert "<script" not in page
    # Neither the detail nor the card's own links may carry a script into the chart.
    links = re.findall(r'href="([^"]*)"', page)
    assert "https://guideline.example/" in links
    assert "javascript:" not in " ".join(links).lower()


def test_the_charts_smart_link_carries_the_app_context_to_the_token_answer(
    ehr: FlaskClient,
) -> None:
    (link,) = hrefs(ehr.get(f"/patients/{CHART_PATIENT}").text, "smart-link")
    assert query_of(link) == {"url": [APP_URL], "appContext": [APP_CONTEXT]}
    launched = ehr.get(link)
    assert launched.status_code == 302
    app_launch = launched.headers["Location"]
    assert app_launch.startswith(APP_URL + "?")
    assert query_of(app_launch)["iss"] == [FHIR_BASE]
    (launch,) = query_of(app_launch)["launch"]
    answer = exchange(ehr, authorize_url(scope="launch patient/Patient.rs", launch=launch))
    assert answer["patient"] == CHART_PATIENT
    assert answer["appContext"] == APP_CONTEXT
    assert answer["need_patient_banner"] is True


def test_a_launch_without_app_context_answers_without_the_key(ehr: FlaskClient) -> None:
    launched = ehr.get(f"/patients/{CHART_PATIENT}/launch?{urlencode({'url': APP_URL})}")
    (launch,) = query_of(launched.headers["Location"])["launch"]
    answer = exchange(ehr, authorize_url(scope="launch patient/Patient.rs", launch=launch))
    assert "appContext" not in answer
    assert answer["need_patient_banner"] is True


def test_an_app_context_too_long_for_a_launch_is_refused(ehr: FlaskClient) -> None:
    too_long = "x" * (APP_CONTEXT_MAX_CHARS + 1)
    query = urlencode({"url": APP_URL, "appContext": too_long})
    assert ehr.get(f"/patients/{CHART_PATIENT}/launch?{query}").status_code == 400
    refused = ehr.post("/launches", json={"patient": CHART_PATIENT, "appContext": too_long})
    assert refused.status_code == 400
    not_text = ehr.post("/launches", json={"patient": CHART_PATIENT, "appContext": {"a": 1}})
    assert not_text.status_code == 400


def test_launches_takes_an_app_context_too(ehr: FlaskClient) -> None:
    made = ehr.post("/launches", json={"patient": CHART_PATIENT, "appContext": "from-post"})
    assert made.status_code == 201
    launch = made.json["launch"]
    answer = exchange(ehr, authorize_url(scope="launch patient/Patient.rs", launch=launch))
    assert answer["appContext"] == "from-post"


def test_a_standalone_launch_without_a_patient_lists_the_patients_to_pick_from(
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    signing_keys: dict[str, dict[str, Any]],
) -> None:
    with httpx.Client(timeout=10) as http:
        ehr = demo_ehr_client(
            signing_keys["ES384"], http, (fhir_server.base_url, fhir_server.access_token)
        )
        asked = authorize_url(scope="launch/patient patient/Patient.rs", patient="")
        picker = ehr.get(asked)
        assert picker.status_code == 200
        assert picker.headers["Cache-Control"] == "no-store"
        assert "<h1>Choose a patient</h1>" in picker.text
        listed = hrefs(picker.text, "patient-choice")
        choices = {query_of(href)["patient"][0]: href for href in listed}
        assert set(loaded_patients.values()) <= set(choices)
        chosen = next(iter(loaded_patients.values()))
        # The choice repeats the request exactly, with the patient filled in.
        expected = {**query_of(asked), "patient": [chosen]}
        assert urlsplit(choices[chosen]).path == "/authorize"
        assert query_of(choices[chosen]) == expected
        answer = exchange(ehr, choices[chosen])
    assert answer["patient"] == chosen
    assert "appContext" not in answer


@pytest.mark.parametrize(
    "client",
    [
        pytest.param({"client_id": "someone-else"}, id="unknown-client"),
        pytest.param({"redirect_uri": "https://evil.example/cb"}, id="unregistered-redirect"),
    ],
)
def test_no_picker_for_an_unknown_client(ehr: FlaskClient, client: dict[str, str]) -> None:
    answer = ehr.get(authorize_url(scope="launch/patient patient/Patient.rs", **client))
    assert answer.status_code == 400
    assert answer.json == {
        "error": "invalid_request",
        "error_description": "unknown client or redirect_uri",
    }


def test_a_chart_of_no_such_patient_is_a_page_saying_so(ehr: FlaskClient) -> None:
    """A chart link kept from an earlier demo run (its patients had other ids) is a 404 page
    that leads back to the list, not a server error."""
    page = ehr.get("/patients/from-an-earlier-run")
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "<h1>No such patient</h1>" in text
    assert '<a href="/">Choose a patient from the list</a>' in text
    assert "Traceback" not in text


def _patient(patient_id: str, given: str, born: str, slug: str | None = None) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "name": [{"family": "Tester", "given": [given]}],
        "birthDate": born,
    }
    if slug is not None:
        patient["identifier"] = [{"system": CAST_IDENTIFIER_SYSTEM, "value": slug}]
    return patient


# The FHIR server's patients, in its own order: two of the cast (listed against the cast's
# order), one it holds beyond the cast.
SERVER_PATIENTS = (
    _patient("p-home", "Hana", "1960-03-01", "home-member"),
    _patient("p-other", "Otto", "1970-01-15"),
    _patient("p-diabetes", "Dina", "1980-12-31", "diabetes-member"),
)
CAST_LINES = (
    CastLine("diabetes-member", "HbA1c 6.7% twice, no diagnosis", "Diabetes"),
    CastLine("not-loaded", "A member this server does not hold", "Diabetes"),
    CastLine("home-member", "A home week at 136/86", "Home blood pressure"),
)


def fhir_server_with_patients(request: httpx.Request) -> httpx.Response:
    """A FHIR server holding `SERVER_PATIENTS`."""
    if request.url.path == "/fhir/Patient":
        entries = [{"resource": patient} for patient in SERVER_PATIENTS]
        return httpx.Response(200, json={"resourceType": "Bundle", "entry": entries})
    return httpx.Response(404)


def test_the_patient_list_shows_the_cast_by_heading_with_its_lines_then_the_others(
    signing_keys: dict[str, dict[str, Any]],
) -> None:
    config = DemoEhrConfig(
        EHR_BASE,
        CDS_BASE + "/fhir",
        "upstream-token",
        clients={},
        cds_base_url=CDS_BASE,
        issuer="https://ehr.example.test",
        signing_key=signing_keys["ES384"],
        cast=CAST_LINES,
    )
    with httpx.Client(transport=httpx.MockTransport(fhir_server_with_patients)) as http:
        page = create_demo_ehr(config, http).test_client().get("/").text
    headings = re.findall(r'<h2 id="group-\d+">([^<]*)</h2>', page)
    assert headings == ["Diabetes", "Home blood pressure", OTHER_PATIENTS]
    rows = re.findall(r'<a href="/patients/([^"]+)">([^<]*)</a>', page)
    assert rows == [
        ("p-diabetes", "Dina Tester"),
        ("p-home", "Hana Tester"),
        ("p-other", "Otto Tester"),
    ]
    reasons = re.findall(r'<td class="reason">([^<]*)</td>', page)
    assert reasons == ["HbA1c 6.7% twice, no diagnosis", "A home week at 136/86"]
    assert re.findall(r'<tr data-cast="([^"]+)">', page) == ["diabetes-member", "home-member"]
    assert "1980-12-31 (" in page  # the birth date, with the age (today's)


def test_ages_are_whole_years_on_the_day() -> None:
    assert age_on("1980-12-31", date(2026, 12, 30)) == 45
    assert age_on("1980-12-31", date(2026, 12, 31)) == 46
    assert age_on("", date(2026, 1, 1)) is None
    assert age_on("1980", date(2026, 1, 1)) is None


@pytest.fixture(scope="module")
def cast_server() -> Iterator[SekmetServer]:
    """A FHIR server of its own holding the written cast (the suite's holds other patients)."""
    server = SekmetServer().start()
    for member in written_cast(date.today()):
        server.load(member.bundle)
    yield server
    server.stop()


@pytest.mark.parametrize("named", ["{id}", "Patient/{id}", "Patient%2F{id}"])
def test_a_family_history_the_server_cannot_search_by_patient_is_read_filtered_to_the_patient(
    cast_server: SekmetServer, signing_keys: dict[str, dict[str, Any]], named: str
) -> None:
    """sekmet refuses `FamilyMemberHistory?patient=` (no such search parameter in its table);
    the demo EHR reads the type and keeps the patient's entries, each chart its own."""
    families = {
        f"cast-{member.slug}": sorted(
            entry["resource"]["id"]
            for entry in member.bundle["entry"]
            if entry["resource"]["resourceType"] == "FamilyMemberHistory"
        )
        for member in written_cast(date.today())
    }
    assert sum(map(bool, families.values())) >= 2  # two charts' entries, to be told apart
    with httpx.Client(timeout=30) as http:
        refused = http.get(
            f"{cast_server.base_url}/FamilyMemberHistory",
            params={"patient": next(iter(families))},
            headers={**cast_server.headers, "Prefer": "handling=strict"},
        )
        assert refused.status_code == 400  # else the fallback is no longer needed
        player = HookPlayer(
            CDS_BASE, cast_server.base_url, cast_server.access_token,
            signing_keys["ES384"], "https://ehr.example.test", http,
        )  # fmt: skip
        for patient_id, expected in families.items():
            query = "FamilyMemberHistory?patient=" + named.format(id=patient_id)
            found = player.read_filtered(query)
            assert found is not None
            assert sorted(entry["resource"]["id"] for entry in found["entry"]) == expected
            assert found["total"] == len(expected)
        assert player.read_filtered("Observation?patient=cast-x") is None
        assert player.read_filtered("FamilyMemberHistory?patient=cast-x&status=completed") is None
