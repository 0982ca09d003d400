"""The SMART detail app launched as smart-launcher-v2 launches it, through real HTTP: `cdss serve`,
the launcher's backend (tests/smart_launcher.py, which follows the launcher's source) and its FHIR
proxy in front of the real FHIR server (sekmet). The launcher's FHIR bases carry a path
(`/v/r4/fhir`, `/v/r4/sim/{launch options}/fhir`), its `launch` is its base64url launch options,
and its proxy collapses `//` anywhere in a URL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from conftest import SMART_CLIENT_ID
from fhir_servers import SekmetServer
from fhir_truth import HBA1C, dated_values, diabetes_estimates, observations
from smart_launcher import LAUNCHER_UI, SmartLauncherServer
from smart_launcher_protocol import MANUAL, NO_ENCOUNTER, LaunchOptions
from support import CdssServer
from test_smart_page import since_of, table_rows

# A patient with HbA1c, BMI and an encounter, and estimates from both diabetes models.
CHARTED_PATIENT = "carebundle-hypertension"
# The launcher's page for a standalone launch: no patient chosen, so its picker asks for one.
STANDALONE = LaunchOptions(launch_type="provider-standalone")


@dataclass(frozen=True)
class Launch:
    """One launch walked to its end: every URL the browser went to, the token answer the app
    got, and the page it was shown."""

    hops: list[str]
    token_answer: dict[str, Any]
    page: httpx.Response
    fhir_requests: list[tuple[str, str | None]]  # (path and query, the token's client_id)

    def authorize_request(self) -> dict[str, str]:
        """What the app first sent to the launcher's authorize endpoint."""
        first = next(hop for hop in self.hops if "/auth/authorize?" in hop)
        return {key: values[0] for key, values in parse_qs(urlsplit(first).query).items()}


@pytest.fixture(scope="module")
def launcher(fhir_server: SekmetServer) -> Iterator[SmartLauncherServer]:
    """The launcher in front of the suite's FHIR server."""
    server = SmartLauncherServer(fhir_server.base_url, fhir_server.access_token).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(start_server: Callable[..., CdssServer], launcher: SmartLauncherServer) -> CdssServer:
    """`cdss serve` that may be launched from the launcher's EHR base and its standalone base."""
    server: CdssServer = start_server(
        "sqlite",
        smart={
            "allowed_issuers": [launcher.fhir_base, launcher.standalone_fhir_base(STANDALONE)],
            # The standalone picker may pick a Synthea chart: read through the launcher's proxy
            # on shared cores, it can take more than the default 5 s.
            "fetch_budget_seconds": 30,
        },
    )
    return server


def walk(launcher: SmartLauncherServer, service: CdssServer, url: str) -> Launch:
    """Follow a browser's redirects from `url` to the app's page, cookies kept."""
    answers_before, requests_before = len(launcher.token_answers), len(launcher.fhir_requests)
    hops = [url]
    with httpx.Client(timeout=60) as browser:
        response = browser.get(url)
        while response.status_code in (302, 303):
            hops.append(urljoin_location(response))
            response = browser.get(hops[-1])
    assert hops[-1] == service.base_url + "/smart/app", (hops[-1], response.text[:300])
    (token_answer,) = launcher.token_answers[answers_before:]
    return Launch(hops, token_answer, response, launcher.fhir_requests[requests_before:])


def urljoin_location(response: httpx.Response) -> str:
    return str(response.url.join(response.headers["Location"]))


def standalone_link(service: CdssServer, iss: str) -> str:
    """The app's standalone launch from the launcher's FHIR base (no `launch`)."""
    return f"{service.base_url}/smart/launch?{urlencode({'iss': iss})}"


@pytest.fixture(scope="module")
def charted_launch(
    launcher: SmartLauncherServer, service: CdssServer, loaded_patients: dict[str, str]
) -> Launch:
    """The launcher's `/launcher` link with `select_encounter` for the charted patient."""
    link = launcher.launcher_endpoint_url(
        service.base_url + "/smart/launch", loaded_patients[CHARTED_PATIENT], select_encounter=True
    )
    return walk(launcher, service, link)


@pytest.fixture(scope="module")
def patient_without_encounters(fhir_server: SekmetServer) -> str:
    """A patient the FHIR server holds no Encounter for."""
    patient = {"resourceType": "Patient", "id": str(uuid.uuid4()), "gender": "female"}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": patient, "request": {"method": "POST", "url": "Patient"}}],
    }
    patient_id: str = fhir_server.load(bundle)
    return patient_id


def test_an_ehr_launch_with_an_encounter_opens_the_page_for_the_launchers_patient(
    charted_launch: Launch, fhir_server: SekmetServer, loaded_patients: dict[str, str]
) -> None:
    patient_id = loaded_patients[CHARTED_PATIENT]
    answer = charted_launch.token_answer
    assert answer["patient"] == patient_id
    encounter = fhir_server.get(f"Encounter/{answer['encounter']}")
    assert encounter["subject"]["reference"] == f"Patient/{patient_id}"
    # The launcher's context as it sends it: no appContext, no fhirContext.
    assert set(answer) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "need_patient_banner",
        "smart_style_url",
        "patient",
        "encounter",
    }
    assert any("/select-encounter?" in hop for hop in charted_launch.hops)
    # The app reads the chart with the token it was given (the picker with the launcher's own).
    clients = {client for _, client in charted_launch.fhir_requests}
    assert clients == {SMART_CLIENT_ID, LAUNCHER_UI}
    assert charted_launch.page.status_code == 200
    assert 'id="estimate-' in charted_launch.page.text


def test_an_ehr_launch_without_an_encounter_opens_the_page(
    launcher: SmartLauncherServer, service: CdssServer, patient_without_encounters: str
) -> None:
    # The launcher page's own link; its encounter picker finds none and offers to launch
    # without one.
    options = LaunchOptions(patient=patient_without_encounters, encounter=MANUAL)
    launch = walk(
        launcher, service, launcher.ehr_launch_url(service.base_url + "/smart/launch", options)
    )
    assert launch.token_answer["patient"] == patient_without_encounters
    assert "encounter" not in launch.token_answer
    assert launch.page.status_code == 200


def test_a_standalone_launch_opens_the_page_for_the_patient_picked_in_the_launcher(
    launcher: SmartLauncherServer, service: CdssServer
) -> None:
    iss = launcher.standalone_fhir_base(STANDALONE)
    launch = walk(launcher, service, standalone_link(service, iss))
    asked = launch.authorize_request()
    assert "launch" not in asked
    assert "launch/patient" in asked["scope"].split()
    assert any("/select-patient?" in hop for hop in launch.hops)
    assert any("/authorize-app?" in hop for hop in launch.hops)
    assert launch.token_answer["patient"]
    assert launch.page.status_code == 200


@pytest.mark.parametrize("kind", ["ehr", "standalone"])
def test_aud_is_the_launchers_fhir_base_with_its_path(
    launcher: SmartLauncherServer, service: CdssServer, charted_launch: Launch, kind: str
) -> None:
    if kind == "ehr":
        launch, base = charted_launch, launcher.fhir_base
    else:
        base = launcher.standalone_fhir_base(STANDALONE)
        launch = walk(launcher, service, standalone_link(service, base))
    asked = launch.authorize_request()
    assert asked["aud"] == base
    assert urlsplit(base).path.endswith("/fhir")
    assert urlsplit(base).path != "/fhir"
    assert asked["code_challenge_method"] == "S256"
    assert asked["redirect_uri"] == service.base_url + "/smart/callback"
    # The launcher accepted it: the app came back with a code, not an error.
    callback = next(hop for hop in launch.hops if "/smart/callback?" in hop)
    assert "code" in parse_qs(urlsplit(callback).query)


@pytest.mark.parametrize(
    "aud",
    [
        "{base}/",  # a trailing slash
        "{origin}/fhir",  # the origin's FHIR path, not the launcher's
        "{host}:1/v/r4/fhir",  # another port
    ],
)
def test_the_launcher_refuses_any_other_aud(
    launcher: SmartLauncherServer, service: CdssServer, aud: str
) -> None:
    # What makes the acceptance above mean something: the launcher compares the whole URL.
    callback = service.base_url + "/smart/callback"
    host = launcher.origin.rsplit(":", 1)[0]
    sent = aud.format(base=launcher.fhir_base, origin=launcher.origin, host=host)
    answer = httpx.get(
        launcher.origin + "/v/r4/auth/authorize",
        params={
            "response_type": "code",
            "client_id": SMART_CLIENT_ID,
            "redirect_uri": callback,
            "scope": "launch patient/Patient.rs",
            "state": "s",
            "aud": sent,
            "launch": LaunchOptions(patient="p", encounter=NO_ENCOUNTER).encode(),
        },
    )
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert answer.headers["Location"].startswith(callback + "?")
    assert back["error"] == ["invalid_request"]
    assert back["state"] == ["s"]
    assert "code" not in back


def test_the_launchers_automatic_encounter_pick_fails_on_a_fhir_base_with_a_path(
    launcher: SmartLauncherServer, service: CdssServer, loaded_patients: dict[str, str]
) -> None:
    # Why the documented link asks for `select_encounter`: without it the launcher looks for
    # `{origin}/Encounter/`, leaving out the FHIR server's `/fhir`.
    link = launcher.launcher_endpoint_url(
        service.base_url + "/smart/launch", loaded_patients[CHARTED_PATIENT], select_encounter=False
    )
    with httpx.Client(timeout=30, follow_redirects=True) as browser:
        response = browser.get(link)
    assert response.status_code == 400
    assert "Failed to auto-select the first encounter" in response.json()["error_description"]


def test_the_page_shows_the_labs_and_estimates_that_came_through_the_launchers_proxy(
    charted_launch: Launch,
    launcher: SmartLauncherServer,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
) -> None:
    patient_id = loaded_patients[CHARTED_PATIENT]
    page = charted_launch.page.text
    # Every HbA1c value the FHIR server holds in the window, as read straight from it.
    expected = dated_values(observations(fhir_server, patient_id, HBA1C), HBA1C, since_of(page))
    assert expected
    shown = {(row[0], row[1]) for row in table_rows(page, "values-hba1c")}
    assert shown == {(day, f"{value:.1f}") for day, value in expected}
    assert "needs BMI" not in page
    for model, probability in diabetes_estimates(fhir_server, patient_id).items():
        estimate = re.search(
            rf'id="estimate-{model}">Estimated probability: <strong>([^<]+)<', page
        )
        assert estimate is not None
        assert estimate.group(1) == probability
    # The FHIR server got the lab codes whole.
    searches = [seen for seen in launcher.proxy.requests_seen if "code=" in seen]
    assert searches
    assert not any("http:/loinc.org" in seen for seen in searches)


@pytest.mark.parametrize(("sim_ehr", "banner_shown"), [(False, True), (True, False)])
def test_the_banner_follows_the_launchers_need_patient_banner(
    launcher: SmartLauncherServer,
    service: CdssServer,
    patient_without_encounters: str,
    sim_ehr: bool,
    banner_shown: bool,
) -> None:
    # "Simulate launch within the EHR UI" (sim_ehr): the launcher's frame shows the patient, so
    # its token answer says need_patient_banner false (authorize.ts createAuthCode).
    options = LaunchOptions(patient=patient_without_encounters, encounter=MANUAL, sim_ehr=sim_ehr)
    launch = walk(
        launcher, service, launcher.ehr_launch_url(service.base_url + "/smart/launch", options)
    )
    assert launch.token_answer["need_patient_banner"] is banner_shown
    assert ('<header class="banner"' in launch.page.text) is banner_shown
