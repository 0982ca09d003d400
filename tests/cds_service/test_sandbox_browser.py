"""The real CDS Hooks sandbox in headless Chromium, offline, against `cdss serve`.

The sandbox's production build is vendored in tests/sandbox_app/ (its README says the commit and
how it was built; scripts/build-sandbox.sh rebuilds it). Here it is served from 127.0.0.1 and
opened with the URL parameters it reads at start (`src/components/MainView/main-view.jsx` and
`src/retrieve-data-helpers/`): `fhirServiceUrl`, `patientId` and `serviceDiscoveryURL`. Its
Patient View then resolves the service's prefetch in the browser, calls the service with its
own ES384 token (trusted through `[auth] sandbox = true` and the pinned key set), shows the
cards, sends feedback from Accept and Dismiss, and opens a card's SMART link with a launch
context from its FHIR server. Its screenshots (`browser.save_screenshot`) are the docs' when run
with `CDSS_SCREENSHOTS=docs/screenshots`.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from browser import save_screenshot
from conftest import TRUSTED_ISSUER, Mint
from fhir_servers import SekmetServer, resolve_prefetch_as_an_ehr
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait
from support import CdssServer, LoopbackHttpServer
from test_admin_api import admin_config, bearer

SANDBOX_APP = Path(__file__).resolve().parent.parent / "sandbox_app"
SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
DIABETES_SERVICE = "diabetes-risk"
# A Synthea patient with prediabetes on the problem list and no HbA1c in a year: the diabetes
# service answers with the ADA's yearly-HbA1c card, which has a suggestion and override reasons.
PATIENT = "synthea-1"
# Hosts the sandbox's bundle calls by default (its default CDS services and FHIR server, from
# src/reducers/): blocked, so the run is offline even where the network is open.
SANDBOX_DEFAULT_HOSTS = ("*://sandbox-services.cds-hooks.org/*", "*://launch.smarthealthit.org/*")
# The sandbox's notice on a `smart` link it could get no launch context for.
UNLAUNCHABLE_SMART_LINK = "Cannot launch SMART link without a SMART-enabled FHIR server"
# Where an HSPC sandbox makes a SMART launch context (`launch-context-retrieval.js`).
LAUNCH_CONTEXT_PATH = "/fhir/_services/smart/Launch"
# Small enough for the docs, wide enough for the sandbox's card column beside its context panel.
WINDOW_WIDTH, WINDOW_HEIGHT = 1280, 900
# The sandbox's header stays at the top of the window (`main-view.css`, `.pin`) and its height.
PINNED_HEADER_PIXELS = 80
# Waits, not timing checks: the sandbox calls three services after ~20 FHIR reads.
WAIT_SECONDS = 90
# Reads the service's feedback summary (/admin/feedback/summary).
ADMIN_TOKEN = uuid.uuid4().hex

pytestmark = pytest.mark.skipif(
    not (SANDBOX_APP / "app.bundle.js").is_file(),
    reason="the sandbox's build is not in tests/sandbox_app/ (bash scripts/build-sandbox.sh)",
)


class SandboxFiles(SimpleHTTPRequestHandler):
    """The sandbox's static files, as any web server would serve them, without a log."""

    def log_message(self, *_: Any) -> None:
        pass


@dataclass
class OpenFhir:
    """The open FHIR front's address and what it was asked."""

    server: LoopbackHttpServer
    base_url: str
    requests: list[str] = field(default_factory=list)
    launches: list[dict[str, Any]] = field(default_factory=list)


def open_fhir_front(upstream: SekmetServer) -> OpenFhir:
    """An open FHIR endpoint in front of sekmet, as the sandbox expects of an unsecured server.

    The sandbox, not SMART-launched, sends no token and gives up on a server answering 401
    (`fhir-metadata-retrieval.js`); sekmet wants a bearer token. The front adds it, answers CORS
    for any origin (the sandbox reads from the browser), and records what it was asked. Like the
    HSPC sandboxes the sandbox was written for, it makes SMART launch contexts for card links
    (`launch-context-retrieval.js`), but it is no SMART authorization server.
    """
    record: dict[str, OpenFhir] = {}

    class Front(BaseHTTPRequestHandler):
        def _cors(self) -> None:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Accept, Authorization, Content-Type")

        def _reply(self, status: int, content: bytes, content_type: str) -> None:
            self.send_response(status)
            self._cors()
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def do_OPTIONS(self) -> None:
            self.send_response(204)
            self._cors()
            self.end_headers()

        def _handle(self) -> None:
            front = record["front"]
            path = self.path.split("?", 1)[0]
            front.requests.append(f"{self.command} {path}")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if path == LAUNCH_CONTEXT_PATH:
                front.launches.append(json.loads(body))
                answer = {"launch_id": uuid.uuid4().hex}
                return self._reply(200, json.dumps(answer).encode(), "application/json")
            if not path.startswith("/fhir/") or "/.well-known/" in path:
                return self._reply(404, b"{}", "application/json")
            headers = dict(upstream.headers)
            if self.headers.get("Content-Type"):
                headers["Content-Type"] = self.headers["Content-Type"]
            response = httpx.request(
                self.command,
                upstream.base_url.removesuffix("/fhir") + self.path,
                headers=headers,
                content=body or None,
                timeout=60,
            )
            # Absolute URLs (fullUrl, paging links) lead back through the front.
            content = response.content.replace(upstream.base_url.encode(), front.base_url.encode())
            content_type = response.headers.get("content-type", "application/fhir+json")
            return self._reply(response.status_code, content, content_type)

        do_GET = do_POST = _handle  # noqa: N815

        def log_message(self, *_: Any) -> None:
            pass

    server = LoopbackHttpServer(Front)
    server.start()
    record["front"] = OpenFhir(server, server.origin + "/fhir")
    return record["front"]


@pytest.fixture(scope="module")
def sandbox_site() -> Iterator[LoopbackHttpServer]:
    """The vendored sandbox build, served from 127.0.0.1."""
    site = LoopbackHttpServer(functools.partial(SandboxFiles, directory=str(SANDBOX_APP)))
    site.start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def open_fhir(fhir_server: SekmetServer) -> Iterator[OpenFhir]:
    """The open FHIR front the sandbox reads."""
    front = open_fhir_front(fhir_server)
    yield front
    front.server.stop()


@pytest.fixture(scope="module")
def sandbox_service(
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[[str], str],
    trusted_issuers: list[dict[str, Any]],
    sandbox_site: LoopbackHttpServer,
    open_fhir: OpenFhir,
) -> Iterator[CdssServer]:
    """`cdss serve` configured as docs/sandbox.md says, for the local sandbox's origin."""
    fhir_servers = [open_fhir.base_url]
    sandbox = {
        "iss": SANDBOX_ISSUER,
        "jwks_builtin": "cds-hooks-sandbox",
        "fhir_servers": fhir_servers,
    }
    server = CdssServer(
        workdir=tmp_path_factory.mktemp("cdss-sandbox-browser"),
        database_url=new_database("sqlite"),
        config={
            "server": {"cors_allowed_origins": [sandbox_site.origin]},
            "auth": {"sandbox": True, "clock_skew_seconds": 30},
            "notes": {"answer_within_seconds": 30},
            "admin": admin_config(ADMIN_TOKEN),
            # The cards link the detail app, launched from the sandbox's FHIR server.
            "smart": {"allowed_issuers": fhir_servers},
        },
        # The suite's trusted EHR as well: the test's own call, for the cards to expect.
        issuers=[sandbox, *trusted_issuers],
    ).start()
    yield server
    server.stop()


def expected_diabetes_cards(
    server: CdssServer, mint: Mint, fhir_server: SekmetServer, patient_id: str
) -> list[dict[str, Any]]:
    """The diabetes service's cards for the patient, asked as an EHR would ask."""
    path = f"/cds-services/{DIABETES_SERVICE}"
    discovery = httpx.get(server.base_url + "/cds-services", timeout=10).json()
    (service,) = [s for s in discovery["services"] if s["id"] == DIABETES_SERVICE]
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/example", "patientId": patient_id},
        "prefetch": resolve_prefetch_as_an_ehr(fhir_server, service["prefetch"], patient_id),
    }
    response = httpx.post(
        server.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {mint(server, path, issuer=TRUSTED_ISSUER)}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def feedback_with(server: CdssServer, outcome: str) -> list[dict[str, Any]]:
    """The diabetes service's feedback summary lines (one per card type) with this outcome."""
    summary = httpx.get(
        server.base_url + "/admin/feedback/summary", headers=bearer(ADMIN_TOKEN), timeout=10
    ).json()
    lines = [line for line in summary["cardTypes"] if line["service"] == DIABETES_SERVICE]
    return [line for line in lines if line[outcome]]


def card_with_summary(driver: webdriver.Chrome, summary: str) -> WebElement | None:
    """The sandbox's card showing this summary, if it shows one."""
    for card in driver.find_elements(By.CSS_SELECTOR, ".MuiCard-root"):
        if card.text.strip().startswith(summary):
            return card
    return None


def button_labelled(card: WebElement, label: str) -> WebElement:
    """The card's button showing this label."""
    (button,) = [b for b in card.find_elements(By.TAG_NAME, "button") if b.text == label]
    return button


def menu_item_shown(driver: webdriver.Chrome, text: str) -> WebElement | None:
    """The open menu's item with this text, once the menu has finished growing into view."""
    for item in driver.find_elements(By.CSS_SELECTOR, "[role='menuitem']"):
        settled = driver.execute_script(
            "const style = getComputedStyle(arguments[0].closest('.MuiPaper-root'));"
            "return style.opacity === '1' && style.transform === 'none';",
            item,
        )
        if item.text == text and settled:
            return item
    return None


def scroll_into_view(driver: webdriver.Chrome, element: WebElement, block: str) -> None:
    """Scroll the element to the top ("start") or middle ("center") of the window, clear of the
    sandbox's pinned header."""
    driver.execute_script(f"arguments[0].scrollIntoView({{block: '{block}'}});", element)
    if block == "start":
        driver.execute_script("window.scrollBy(0, -arguments[0]);", PINNED_HEADER_PIXELS)


def open_sandbox(
    driver: webdriver.Chrome, site: LoopbackHttpServer, fhir_base: str, patient_id: str, cds: str
) -> None:
    """Open the sandbox on the patient, with the FHIR server and the service's discovery URL."""
    driver.set_window_size(WINDOW_WIDTH, WINDOW_HEIGHT)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(SANDBOX_DEFAULT_HOSTS)})
    query = urlencode(
        {
            "fhirServiceUrl": fhir_base,
            "patientId": patient_id,
            "serviceDiscoveryURL": cds + "/cds-services",
        }
    )
    driver.get(f"{site.origin}/index.html?{query}")


def test_the_sandbox_shows_the_cards_and_sends_feedback_the_service_stores(
    sandbox_site: LoopbackHttpServer,
    open_fhir: OpenFhir,
    sandbox_service: CdssServer,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    mint: Mint,
    browser: webdriver.Chrome,
) -> None:
    patient_id = loaded_patients[PATIENT]
    expected = expected_diabetes_cards(sandbox_service, mint, fhir_server, patient_id)
    (diabetes,) = [card for card in expected if card.get("suggestions")]
    open_sandbox(browser, sandbox_site, open_fhir.base_url, patient_id, sandbox_service.base_url)

    try:
        shown = WebDriverWait(browser, WAIT_SECONDS).until(
            lambda d: card_with_summary(d, diabetes["summary"])
        )
    except TimeoutException:
        body = browser.find_element(By.TAG_NAME, "body").text
        pytest.fail(f"no card {diabetes['summary']!r} in the sandbox: {open_fhir.requests} {body}")
    assert patient_id in browser.find_element(By.TAG_NAME, "body").text
    # Every diabetes card the service gives an EHR for this chart, the sandbox shows too.
    for card in expected:
        assert card_with_summary(browser, card["summary"]) is not None, card["summary"]
    # The sandbox resolved the prefetch itself, searching by POST as it does.
    assert any(request.endswith("/_search") for request in open_fhir.requests)
    save_screenshot(browser, "sandbox-1-patient-view")
    scroll_into_view(browser, shown, "start")
    # The service's Markdown rendered: bold made strong, no asterisks left.
    assert shown.find_elements(By.TAG_NAME, "strong")
    assert "**" not in shown.text
    save_screenshot(browser, "sandbox-2-card-detail")

    # Accept: the sandbox POSTs `accepted` feedback with the suggestion's uuid.
    suggestion = diabetes["suggestions"][0]
    scroll_into_view(browser, button_labelled(shown, suggestion["label"]), "center")
    save_screenshot(browser, "sandbox-3-card-actions")
    browser.execute_script("arguments[0].click();", button_labelled(shown, suggestion["label"]))
    accepted = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda _: feedback_with(sandbox_service, "accepted")
    )
    assert [line["accepted"] for line in accepted] == [1]

    # A `smart` link: the sandbox asks its FHIR server for a launch context, then opens the link
    # with `launch` and `iss`, as an EHR launch.
    smart = next(link for link in diabetes["links"] if link["type"] == "smart")
    launch_button = button_labelled(shown, smart["label"])
    WebDriverWait(browser, WAIT_SECONDS).until(lambda _: launch_button.is_enabled())
    assert UNLAUNCHABLE_SMART_LINK not in shown.text
    # One launch context per card link, each with its card's appContext, for this patient.
    launches = [
        ask["parameters"]
        for ask in open_fhir.launches
        if ask["launchUrl"] == smart["url"]
        and ask["parameters"].get("appContext") == smart["appContext"]
    ]
    assert [launch["patient"] for launch in launches] == [patient_id]
    sandbox_window = browser.current_window_handle
    browser.execute_script("arguments[0].click();", launch_button)
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: len(d.window_handles) == 2)
    browser.switch_to.window(next(h for h in browser.window_handles if h != sandbox_window))
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.current_url.startswith(sandbox_service.base_url)
    )
    opened = urlsplit(browser.current_url)
    assert opened.path == urlsplit(smart["url"]).path
    assert parse_qs(opened.query)["iss"] == [open_fhir.base_url]
    assert parse_qs(opened.query)["launch"]
    # The service took the sandbox's FHIR server as the launch's issuer and asked it for its
    # SMART configuration, which this front (no authorization server) does not have.
    assert "GET /fhir/.well-known/smart-configuration" in open_fhir.requests
    browser.close()
    browser.switch_to.window(sandbox_window)

    # Dismiss with an override reason: the sandbox POSTs `overridden` with the reason's code.
    reason = diabetes["overrideReasons"][0]
    reasons_button = shown.find_element(
        By.CSS_SELECTOR, "button[aria-label='select dismiss reason']"
    )
    scroll_into_view(browser, reasons_button, "center")
    browser.execute_script("arguments[0].click();", reasons_button)
    item = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: menu_item_shown(d, f"Override: {reason['display']}")
    )
    save_screenshot(browser, "sandbox-4-override-reasons")
    item.click()
    overridden = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda _: feedback_with(sandbox_service, "overridden")
    )
    assert [line["overridden"] for line in overridden] == [1]
    # The sandbox sends the reason's code and system, not its display.
    assert [(r["system"], r["code"]) for line in overridden for r in line["overrideReasons"]] == [
        (reason.get("system"), reason["code"])
    ]
    # Dismissed, the card leaves the sandbox's list.
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: card_with_summary(d, diabetes["summary"]) is None
    )
