"""The SMART detail app's launch through real HTTP: `cdss serve`, the demo EHR as the SMART
authorization server in front of the real FHIR server (sekmet), and the page for the patient."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import SMART_CLIENT_ID, Mint
from demo_servers import DemoEhrServer
from fhir_servers import SekmetServer
from fhir_truth import diabetes_estimates
from hook_calls import HIGH_BMI, diabetes_cards
from support import CdssServer

from cds_service.smart.launch import code_challenge

PATIENT = "carebundle-hypertension"


def launch(demo_ehr: DemoEhrServer, patient_id: str) -> str:
    """Open the patient's chart in the demo EHR: a launch id."""
    answer = httpx.post(demo_ehr.base_url + "/launches", json={"patient": patient_id})
    assert answer.status_code == 201
    launch_id: str = answer.json()["launch"]
    return launch_id


def follow(client: httpx.Client, response: httpx.Response) -> httpx.Response:
    assert response.status_code in (302, 303), response.text
    return client.get(response.headers["Location"])


def test_an_ehr_launch_opens_the_page_for_the_patient_with_the_models_answers(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
) -> None:
    patient_id = loaded_patients[PATIENT]
    with httpx.Client(base_url=smart_service.base_url, timeout=20) as browser:
        started = browser.get(
            "/smart/launch",
            params={"iss": demo_ehr.fhir_base_url, "launch": launch(demo_ehr, patient_id)},
        )
        assert started.status_code == 302
        authorize = urlsplit(started.headers["Location"])
        asked = {key: values[0] for key, values in parse_qs(authorize.query).items()}
        assert authorize.geturl().startswith(demo_ehr.base_url + "/authorize?")
        assert asked["code_challenge_method"] == "S256"
        assert len(asked["code_challenge"]) == 43
        assert asked["aud"] == demo_ehr.fhir_base_url
        assert set(asked["scope"].split()) >= {"launch", "patient/Observation.rs"}
        assert not any(
            scope.endswith(("*.rs", ".write", ".cud")) for scope in asked["scope"].split()
        )

        approved = follow(browser, started)  # the EHR approves and sends the clinician back
        assert approved.headers["Location"].startswith(smart_service.base_url + "/smart/callback?")
        back = follow(browser, approved)
        assert back.status_code == 303
        assert "HttpOnly" in back.headers["Set-Cookie"]
        page = follow(browser, back)

    assert page.status_code == 200
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.text))
    for model, probability in diabetes_estimates(fhir_server, patient_id).items():
        shown = re.search(
            rf'id="estimate-{model}">Estimated probability: <strong>([^<]+)<', page.text
        )
        assert shown is not None
        assert shown.group(1) == probability
        assert len(re.findall(rf'id="factors-{model}"', page.text)) == 1
    assert "Model card" in text
    assert fhir_server.access_token not in page.text


def test_a_wrong_or_reused_state_is_refused(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, loaded_patients: dict[str, str]
) -> None:
    with httpx.Client(base_url=smart_service.base_url, timeout=20) as browser:
        started = browser.get(
            "/smart/launch",
            params={
                "iss": demo_ehr.fhir_base_url,
                "launch": launch(demo_ehr, loaded_patients[PATIENT]),
            },
        )
        callback = httpx.get(started.headers["Location"]).headers["Location"]
        query = parse_qs(urlsplit(callback).query)
        forged = browser.get(
            "/smart/callback", params={"code": query["code"][0], "state": "not-the-state"}
        )
        # The browser is sent to a page, not given JSON: it says to launch again.
        assert forged.status_code == 400
        assert forged.headers["Content-Type"].startswith("text/html")
        assert "not started in this browser" in forged.text
        assert "Launch the app again from the EHR" in forged.text
        assert "Set-Cookie" not in forged.headers
        assert browser.get(callback).status_code == 303  # the right state, once
        assert browser.get(callback).status_code == 400  # and never again


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example/fhir",
        "http://127.0.0.1:9/fhir",
    ],
)
def test_an_issuer_not_allowed_is_refused_before_anything_is_fetched(
    smart_service: CdssServer, iss: str
) -> None:
    response = httpx.get(
        smart_service.base_url + "/smart/launch", params={"iss": iss, "launch": "x"}
    )
    assert response.status_code == 400
    assert "not allowed" in response.json()["issue"][0]["diagnostics"]
    assert "Location" not in response.headers


def test_the_page_needs_a_launched_session(smart_service: CdssServer) -> None:
    response = httpx.get(smart_service.base_url + "/smart/app", cookies={"cdss_smart": "made-up"})
    assert response.status_code == 400


def test_the_authorization_server_refuses_a_code_without_its_pkce_verifier(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, loaded_patients: dict[str, str]
) -> None:
    redirect_uri = smart_service.base_url + "/smart/callback"
    verifier = "v" * 64
    authorize = httpx.get(
        demo_ehr.base_url + "/authorize",
        params={
            "response_type": "code",
            "client_id": SMART_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": "launch patient/Patient.rs",
            "state": "s",
            "aud": demo_ehr.fhir_base_url,
            "launch": launch(demo_ehr, loaded_patients[PATIENT]),
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        },
    )
    code = parse_qs(urlsplit(authorize.headers["Location"]).query)["code"][0]
    token_url = demo_ehr.base_url + "/token"
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": SMART_CLIENT_ID,
    }
    missing = httpx.post(token_url, data=form)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    wrong = httpx.post(token_url, data={**form, "code_verifier": "w" * 64})
    assert wrong.status_code == 400
    # A refused exchange used the code up: the right verifier is too late now.
    late = httpx.post(token_url, data={**form, "code_verifier": verifier})
    assert late.json()["error"] == "invalid_grant"


def test_cards_link_the_detail_app_where_an_ehr_may_launch_it(
    smart_service: CdssServer, cdss_server: CdssServer, mint: Mint
) -> None:
    patient = "smart-link-patient"
    (card,) = diabetes_cards(smart_service, mint, patient, HIGH_BMI)
    app, model_card = card["links"]
    assert app == {
        "label": "Risk details: every factor behind the estimate",
        "url": smart_service.base_url + "/smart/launch",
        "type": "smart",
        "appContext": "diabetes-risk",
    }
    assert model_card["type"] == "absolute"
    # A service no EHR may launch the app from does not offer it.
    (plain,) = diabetes_cards(cdss_server, mint, patient, HIGH_BMI)
    assert [link["type"] for link in plain["links"]] == ["absolute"]
