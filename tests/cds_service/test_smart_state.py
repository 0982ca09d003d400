"""The SMART launch's `state` belongs to the browser that started the launch (issue 18 item 7):
a callback link opened in another browser is refused with a page saying to launch again, opens
no session there and leaves the launch to its own browser; the launch cookie's attributes; the
launch record keeps neither the cookie nor the state; a launch in headless Chromium still lands
on the page."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from http.cookies import Morsel, SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from accessibility import assert_accessible
from browser import save_screenshot
from demo_servers import DemoEhrServer
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import create_engine, select
from support import CdssServer
from test_smart_launch import follow, launch

from cds_service.errors import SmartLaunchRefused
from cds_service.settings import SmartSettings
from cds_service.storage.tables import smart_launch

PATIENT = "carebundle-hypertension"
OTHER_PATIENT = "synthea-1"
SESSION_COOKIE = "cdss_smart"
LAUNCH_COOKIE = "cdss_smart_launch"
LAUNCH_AGAIN = "again from the EHR"


def set_cookies(response: httpx.Response) -> dict[str, Morsel[str]]:
    """The cookies a response sets, with their attributes, by name."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return dict(jar)


def start_launch(
    browser: httpx.Client, smart_service: CdssServer, demo_ehr: DemoEhrServer, patient_id: str
) -> tuple[httpx.Response, str]:
    """Start an EHR launch in `browser` and let the EHR approve it: the launch response and the
    callback URL (with code and state) the EHR sends the browser back to, not yet opened."""
    started = browser.get(
        smart_service.base_url + "/smart/launch",
        params={"iss": demo_ehr.fhir_base_url, "launch": launch(demo_ehr, patient_id)},
    )
    assert started.status_code == 302, started.text
    approved = browser.get(started.headers["Location"])
    assert approved.status_code == 302, approved.text
    callback: str = approved.headers["Location"]
    assert callback.startswith(smart_service.base_url + "/smart/callback?")
    return started, callback


def assert_refused_with_a_page(response: httpx.Response) -> None:
    """A refused callback: the launch error's status, an HTML page saying to launch again, no
    session cookie and the launch cookie left alone."""
    assert response.status_code == SmartLaunchRefused.status
    assert response.headers["Content-Type"].startswith("text/html")
    assert LAUNCH_AGAIN in response.text
    assert "Location" not in response.headers
    assert not set_cookies(response)


def test_a_callback_link_opened_in_another_browser_is_refused_and_stays_with_its_own(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, loaded_patients: dict[str, str]
) -> None:
    with (
        httpx.Client(base_url=smart_service.base_url, timeout=30) as first_browser,
        httpx.Client(base_url=smart_service.base_url, timeout=30) as second_browser,
    ):
        _, callback = start_launch(first_browser, smart_service, demo_ehr, loaded_patients[PATIENT])
        # The second person opens the link the first was sent back with: no launch cookie.
        refused = second_browser.get(callback)
        assert_refused_with_a_page(refused)
        assert second_browser.get("/smart/app").status_code == 400
        # The launch was not used up: the browser that started it still completes it.
        back = first_browser.get(callback)
        assert back.status_code == 303
        assert follow(first_browser, back).status_code == 200


def test_a_callback_link_with_another_launchs_cookie_is_refused_and_both_launches_stay(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, loaded_patients: dict[str, str]
) -> None:
    with (
        httpx.Client(base_url=smart_service.base_url, timeout=30) as first_browser,
        httpx.Client(base_url=smart_service.base_url, timeout=30) as second_browser,
    ):
        _, first_callback = start_launch(
            first_browser, smart_service, demo_ehr, loaded_patients[PATIENT]
        )
        _, second_callback = start_launch(
            second_browser, smart_service, demo_ehr, loaded_patients[OTHER_PATIENT]
        )
        # Each browser holds a launch cookie, each bound to its own launch only.
        assert_refused_with_a_page(second_browser.get(first_callback))
        assert second_browser.get("/smart/app").status_code == 400
        for browser, callback in (
            (first_browser, first_callback),
            (second_browser, second_callback),
        ):
            back = browser.get(callback)
            assert back.status_code == 303
            assert follow(browser, back).status_code == 200


def test_the_launch_cookie_is_http_only_lax_under_smart_and_lives_as_long_as_the_launch(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, loaded_patients: dict[str, str]
) -> None:
    with httpx.Client(timeout=30) as browser:
        started, callback = start_launch(browser, smart_service, demo_ehr, loaded_patients[PATIENT])
        binding = set_cookies(started)[LAUNCH_COOKIE]
        assert binding["httponly"] is True
        # Lax: the authorization server's redirect back is a top-level GET from another site.
        assert binding["samesite"] == "Lax"
        assert binding["path"] == "/smart/"
        assert binding["max-age"] == str(SmartSettings().launch_minutes * 60)
        assert not binding["secure"]  # the suite's public base URL is plain http
        # Not the state, nor derived from anything in the URL the EHR sees.
        assert binding.value not in started.headers["Location"]
        assert binding.value not in callback

        back = browser.get(callback)
        assert back.status_code == 303
        cookies = set_cookies(back)
        assert cookies[LAUNCH_COOKIE].value == ""
        assert cookies[LAUNCH_COOKIE]["max-age"] == "0"
        assert cookies[LAUNCH_COOKIE]["path"] == "/smart/"
        assert cookies[SESSION_COOKIE].value
        assert LAUNCH_COOKIE not in browser.cookies

        # The state is good once, even with the launch cookie it was bound to sent again.
        with httpx.Client(timeout=30, cookies={LAUNCH_COOKIE: binding.value}) as replay:
            assert_refused_with_a_page(replay.get(callback))


def test_the_launch_record_holds_neither_the_launch_cookie_nor_a_key_the_state_alone_opens(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, loaded_patients: dict[str, str]
) -> None:
    with httpx.Client(timeout=30) as browser:
        started, _ = start_launch(browser, smart_service, demo_ehr, loaded_patients[PATIENT])
    binding = set_cookies(started)[LAUNCH_COOKIE].value
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    engine = create_engine(smart_service.database_url)
    with engine.connect() as connection:
        stored = " ".join(
            str(value) for row in connection.execute(select(smart_launch)) for value in row
        )
    engine.dispose()
    for secret in (binding, state):
        assert secret not in stored
        assert hashlib.sha256(secret.encode()).hexdigest() not in stored


def test_the_launch_cookie_is_secure_when_the_public_base_url_is_https(
    start_server: Callable[..., CdssServer], demo_ehr: DemoEhrServer, smart_service: CdssServer
) -> None:
    served_behind_tls: CdssServer = start_server(
        "sqlite",
        server={"public_base_url": "https://cdss.example"},
        smart={"allowed_issuers": [demo_ehr.fhir_base_url]},
    )
    started = httpx.get(
        served_behind_tls.base_url + "/smart/launch",
        params={"iss": demo_ehr.fhir_base_url, "launch": "any"},
    )
    assert started.status_code == 302, started.text
    binding = set_cookies(started)[LAUNCH_COOKIE]
    assert binding["secure"] is True
    assert binding["httponly"] is True


def test_in_chromium_a_launch_lands_on_the_page_and_another_browsers_link_is_refused(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    loaded_patients: dict[str, str],
    browser: webdriver.Chrome,
) -> None:
    # The browser's own launch: the cookie goes out and comes back through the EHR's redirect.
    query = urlencode(
        {"iss": demo_ehr.fhir_base_url, "launch": launch(demo_ehr, loaded_patients[PATIENT])}
    )
    browser.get(f"{smart_service.base_url}/smart/launch?{query}")
    WebDriverWait(browser, 30).until(lambda d: urlsplit(d.current_url).path == "/smart/app")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Risk details"
    (session,) = browser.get_cookies()  # the launch cookie is gone, the session stays
    assert session["name"] == SESSION_COOKIE

    # Another person's callback link, opened in this browser, does not switch its patient.
    with httpx.Client(timeout=30) as other_browser:
        _, callback = start_launch(
            other_browser, smart_service, demo_ehr, loaded_patients[OTHER_PATIENT]
        )
        browser.get(callback)
        assert urlsplit(browser.current_url).path == "/smart/callback"
        assert LAUNCH_AGAIN in browser.find_element(By.TAG_NAME, "main").text
        assert browser.get_cookies() == [session]
        assert_accessible(browser, "the refused SMART callback")
        save_screenshot(browser, "smart-callback-refused")
        back = other_browser.get(callback)
        assert back.status_code == 303
