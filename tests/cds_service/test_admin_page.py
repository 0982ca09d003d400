"""The admin page in a real browser (headless Chromium) against `cdss serve`."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import httpx
from browser import navigating, save_screenshot
from conftest import Mint
from hook_calls import HIGH_BMI, diabetes_cards, send_feedback
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from support import CdssServer
from test_admin_api import ACTOR, admin_config, bearer

DECLINED = {"code": "patient-declined", "display": "Patient declined"}


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def fill(driver: webdriver.Chrome, field_id: str, value: str) -> None:
    field = driver.find_element(By.ID, field_id)
    field.clear()
    field.send_keys(value)


def click(driver: webdriver.Chrome, by: str, selector: str) -> None:
    """Click what submits a form, and wait for the answer's page."""
    button = driver.find_element(by, selector)
    # The page's own click: chromedriver's native click sometimes still inspects the button
    # after the submission has replaced the page ("Node ... does not belong to the document").
    navigating(driver, lambda: driver.execute_script("arguments[0].click();", button))


def unlabelled_fields(driver: webdriver.Chrome) -> list[str]:
    """Visible form fields without a <label for=...>."""
    script = """
        return [...document.querySelectorAll('input:not([type=hidden]), select')]
            .filter(e => !document.querySelector('label[for="' + CSS.escape(e.id) + '"]'))
            .map(e => e.name);
    """
    found: list[str] = driver.execute_script(script)
    return found


def offered(server: CdssServer) -> set[str]:
    services = httpx.get(server.base_url + "/cds-services", timeout=10).json()["services"]
    return {service["id"] for service in services}


def test_an_administrator_signs_in_changes_refuses_rolls_back_and_signs_out(
    start_server: Callable[..., CdssServer], mint: Mint, browser: webdriver.Chrome
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_server("sqlite", admin=admin_config(token))
    (card,) = diabetes_cards(server, mint, f"page-{uuid.uuid4().hex[:12]}", HIGH_BMI)
    send_feedback(
        server,
        mint,
        [{"card": card["uuid"], "outcome": "overridden", "overrideReason": {"reason": DECLINED}}],
    )

    browser.get(server.base_url + "/admin")
    assert browser.current_url == server.base_url + "/admin/sign-in"
    assert unlabelled_fields(browser) == []
    fill(browser, "token", "a guess")
    # The keyboard alone signs in.
    navigating(browser, lambda: browser.find_element(By.ID, "token").send_keys(Keys.ENTER))
    assert "not valid" in text_of(browser, "sign-in-error")
    fill(browser, "token", token)
    navigating(browser, lambda: browser.find_element(By.ID, "token").send_keys(Keys.ENTER))

    assert browser.current_url == server.base_url + "/admin"
    assert "version 0 is in force" in text_of(browser, "version-in-force")
    assert unlabelled_fields(browser) == []
    summary = text_of(browser, "feedback-summary")
    assert "diabetes-risk diabetes-risk 1 0 1 0% Patient declined: 1" in summary

    # Switch the note summary off.
    browser.find_element(By.ID, "enabled-note-summary").click()  # a checkbox: no page load
    fill(browser, "services-comment", "Noisy in clinic")
    click(browser, By.ID, "save-services")
    assert "version 1 is in force" in text_of(browser, "saved")
    assert "note-summary" not in offered(server)

    # Overlapping bands are refused, with the field named, and nothing changes.
    fill(browser, "diabetes.moderate_from", "45")
    fill(browser, "diabetes.high_from", "30")
    click(browser, By.ID, "save-cards")
    error = text_of(browser, "error")
    assert "Nothing was changed" in error
    assert "cards.diabetes: the bands overlap" in error
    assert "version 1 is in force" in text_of(browser, "version-in-force")

    fill(browser, "diabetes.moderate_from", "20")
    fill(browser, "diabetes.high_from", "30")
    click(browser, By.ID, "save-cards")
    assert "version 2 is in force" in text_of(browser, "saved")
    api = httpx.get(server.base_url + "/admin/config", headers=bearer(token), timeout=10).json()
    assert api["config"]["cards"]["diabetes"]["moderate_from"] == 0.2
    assert api["config"]["cards"]["diabetes"]["high_from"] == 0.3
    assert api["config"]["services"]["note-summary"]["enabled"] is False
    save_screenshot(browser, "admin-page")

    click(browser, By.ID, "rollback-0")
    assert "version 3 is in force" in text_of(browser, "saved")
    assert "note-summary" in offered(server)
    history = text_of(browser, "history")
    assert "restores version 0" in history
    assert "Noisy in clinic" in history
    audit = text_of(browser, "audit")
    for event in ("admin-signed-in", "config-changed", "config-refused", "config-rolled-back"):
        assert event in audit
    assert ACTOR in audit

    cookie = browser.get_cookie("cdss_admin")
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    click(browser, By.CSS_SELECTOR, "form[action='/admin/sign-out'] button")
    assert browser.current_url == server.base_url + "/admin/sign-in"
    # The old session opens nothing any more.
    reused = httpx.get(
        server.base_url + "/admin", cookies={"cdss_admin": cookie["value"]}, timeout=10
    )
    assert reused.status_code == 303


def test_a_form_without_the_session_token_is_refused(
    start_server: Callable[..., CdssServer], browser: webdriver.Chrome
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_server("sqlite", admin=admin_config(token))
    browser.get(server.base_url + "/admin/sign-in")
    fill(browser, "token", token)
    navigating(browser, lambda: browser.find_element(By.ID, "token").send_keys(Keys.ENTER))
    cookie = browser.get_cookie("cdss_admin")
    assert cookie is not None
    forged = httpx.post(
        server.base_url + "/admin/services",
        data={"csrf_token": "forged", "based_on": "0"},
        cookies={"cdss_admin": cookie["value"]},
        timeout=10,
    )
    assert forged.status_code == 401
    config = httpx.get(server.base_url + "/admin/config", headers=bearer(token), timeout=10)
    assert config.json()["version"] == 0
