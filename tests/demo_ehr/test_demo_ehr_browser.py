"""End to end in headless Chromium: the demo EHR opens a chart, shows the service's cards, sends
feedback when a suggestion is accepted, and launches the SMART detail app from a card; a
standalone launch of the app lets the user pick the patient in the demo EHR."""

from __future__ import annotations

import base64
from datetime import date
from urllib.parse import parse_qs, urlencode, urlsplit

from browser import ARTIFACTS, navigating, save_screenshot
from demo_servers import DemoEhrServer
from fhir_servers import SekmetServer
from fhir_truth import BMI, dated_values, diabetes_estimates, observations
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, select
from support import CdssServer

from cds_service.storage.tables import feedback

# Of the suite's own patients (tests/synthetic_patients.py, not the demo's cast): a Synthea history
# whose diabetes-risk card suggests an HbA1c (prediabetes, no HbA1c in a year), and another
# patient whose diabetes estimates differ from it.
PATIENT = "synthea-1"
OTHER_PATIENT = "carebundle-hypertension"


def bmi_category(value: float) -> str:
    """The WHO adult category, written out here rather than taken from the code under test."""
    if value < 18.5:
        return "Underweight (< 18.5)"
    if value < 25:
        return "Healthy (18.5-24.9)"
    if value < 30:
        return "Overweight (25-29.9)"
    return "Obesity (>= 30)"


def click(driver: webdriver.Chrome, element: webdriver.remote.webelement.WebElement) -> None:
    # The page's own click: chromedriver's native one can race the page it replaces.
    navigating(driver, lambda: driver.execute_script("arguments[0].click();", element))


def test_chart_card_feedback_and_the_smart_app_from_the_card(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    browser: webdriver.Chrome,
) -> None:
    patient_id = loaded_patients[PATIENT]
    browser.get(demo_ehr.base_url + "/")
    click(browser, browser.find_element(By.CSS_SELECTOR, f"a[href='/patients/{patient_id}']"))

    cards = browser.find_elements(By.CSS_SELECTOR, "section.card[data-service='diabetes-risk']")
    assert cards, browser.page_source
    save_screenshot(browser, "demo-ehr-chart")
    # The service's Markdown is shown as HTML: bold made strong, its model-card link a link.
    detail = cards[0].find_element(By.CSS_SELECTOR, ".detail")
    assert detail.find_elements(By.TAG_NAME, "strong")
    assert "**" not in detail.text
    model_card = detail.find_element(By.CSS_SELECTOR, "a[href*='/model-cards/']")
    assert model_card.get_attribute("rel") == "noopener noreferrer"
    accept = cards[0].find_element(By.CSS_SELECTOR, "button.accept")
    form = accept.find_element(By.XPATH, "./..")
    card_uuid = form.find_element(By.NAME, "card").get_attribute("value")
    suggestion = form.find_element(By.NAME, "suggestion").get_attribute("value")
    click(browser, accept)
    assert "Feedback sent: accepted" in browser.find_element(By.ID, "sent").text
    engine = create_engine(smart_service.database_url)
    with engine.connect() as connection:
        stored = connection.execute(
            select(feedback.c.outcome, feedback.c.accepted_suggestions).where(
                feedback.c.card_uuid == card_uuid
            )
        ).all()
    engine.dispose()
    assert [(row.outcome, row.accepted_suggestions) for row in stored] == [
        ("accepted", [suggestion])
    ]

    link = browser.find_element(
        By.CSS_SELECTOR, "section.card[data-service='diabetes-risk'] a.smart-link"
    )
    # The card link's appContext goes with the launch (to the token answer: unit-tested).
    # (synthea-1 has prediabetes on the problem list and no HbA1c in a year: the ADA's yearly
    # HbA1c card, whose estimate is the undiagnosed-diabetes model's.)
    assert parse_qs(urlsplit(link.get_attribute("href") or "").query)["appContext"] == [
        "prediabetes-monitoring"
    ]
    click(browser, link)
    assert urlsplit(browser.current_url).path == "/smart/app"
    assert browser.current_url.startswith(smart_service.base_url)
    save_screenshot(browser, "smart-detail-app", whole_page=True)
    for model, probability in diabetes_estimates(fhir_server, patient_id).items():
        shown = browser.find_element(By.ID, f"estimate-{model}").text
        assert shown == f"Estimated probability: {probability}"
        rows = browser.find_elements(By.CSS_SELECTOR, f"#factors-{model} tbody tr")
        assert rows
    # Opened on the card's own risk: its section first, and marked.
    first = browser.find_element(By.CSS_SELECTOR, "section.risk")
    assert first.get_attribute("id") == "risk-diabetes-undiagnosed"
    assert first.find_element(By.ID, "opened-from-card").is_displayed()
    # The BMI trend: every value the FHIR server holds in the window, each drawn as a point.
    since = date.fromisoformat(browser.find_element(By.ID, "trends").text.split()[-1])
    expected = dated_values(observations(fhir_server, patient_id, BMI), BMI, since)
    assert expected
    rows = browser.find_elements(By.CSS_SELECTOR, "#values-bmi tbody tr")
    shown = {tuple(cell.text for cell in row.find_elements(By.TAG_NAME, "td")) for row in rows}
    assert shown == {(day, f"{value:.1f}", bmi_category(value)) for day, value in expected}
    assert len(rows) == len(expected)  # a value the EHR holds twice is listed once
    points = browser.find_elements(By.CSS_SELECTOR, "#trend-bmi svg circle.point")
    assert len(points) == len(expected)
    assert browser.find_element(By.CSS_SELECTOR, "#trend-bmi svg").is_displayed()
    # Printed: no navigation, and every table whole rather than in its scrolling box.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.TAG_NAME, "nav").is_displayed()
    box = browser.find_element(By.CSS_SELECTOR, "#values-bmi").find_element(By.XPATH, "..")
    assert box.value_of_css_property("max-height") == "none"
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert box.value_of_css_property("max-height") != "none"
    printed = base64.b64decode(browser.print_page())
    assert printed.startswith(b"%PDF")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "smart-detail-app.pdf").write_bytes(printed)
    # The token stays on the server: not in the page, not in the URL, not in a readable cookie.
    assert "access_token" not in browser.page_source
    assert all(cookie["httpOnly"] for cookie in browser.get_cookies())


def test_a_standalone_launch_lets_the_user_pick_the_patient(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    browser: webdriver.Chrome,
) -> None:
    patient_id = loaded_patients[PATIENT]
    estimates = diabetes_estimates(fhir_server, patient_id)
    # Another patient's estimates differ, so finding these on the page names the patient.
    assert estimates != diabetes_estimates(fhir_server, loaded_patients[OTHER_PATIENT])
    launch = urlencode({"iss": demo_ehr.fhir_base_url})
    browser.get(f"{smart_service.base_url}/smart/launch?{launch}")

    assert browser.current_url.startswith(demo_ehr.base_url + "/authorize?")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Choose a patient"
    choices = {
        parse_qs(urlsplit(href).query)["patient"][0]: choice
        for choice in browser.find_elements(By.CSS_SELECTOR, "a.patient-choice")
        if (href := choice.get_attribute("href"))
    }
    assert set(loaded_patients.values()) <= set(choices)
    save_screenshot(browser, "demo-ehr-pick-patient")
    click(browser, choices[patient_id])

    assert urlsplit(browser.current_url).path == "/smart/app"
    assert browser.current_url.startswith(smart_service.base_url)
    assert browser.title == "Risk details"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Risk details"
    page = browser.find_element(By.TAG_NAME, "body").text
    for probability in estimates.values():
        assert probability in page
    save_screenshot(browser, "smart-detail-app-standalone")
