"""End to end in headless Chromium: the demo EHR opens a chart, shows the service's cards, sends
feedback when a suggestion is accepted, and launches the SMART detail app from a card."""

from __future__ import annotations

from urllib.parse import urlsplit

from browser import navigating, save_screenshot
from demo_servers import DemoEhrServer
from fhir_servers import SekmetServer
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, select
from support import CdssServer
from test_smart_launch import diabetes_estimates

from cds_service.storage.tables import feedback

# A Synthea patient whose chart gets a moderate diabetes risk card with an HbA1c suggestion.
PATIENT = "synthea-2"


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
    click(browser, link)
    assert urlsplit(browser.current_url).path == "/smart/app"
    assert browser.current_url.startswith(smart_service.base_url)
    save_screenshot(browser, "smart-detail-app")
    for model, probability in diabetes_estimates(fhir_server, patient_id).items():
        shown = browser.find_element(By.ID, f"estimate-{model}").text
        assert shown == f"Estimated probability: {probability}"
        rows = browser.find_elements(By.CSS_SELECTOR, f"#factors-{model} tbody tr")
        assert rows
    # The token stays on the server: not in the page, not in the URL, not in a readable cookie.
    assert "access_token" not in browser.page_source
    assert all(cookie["httpOnly"] for cookie in browser.get_cookies())
