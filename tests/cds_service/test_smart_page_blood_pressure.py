"""The SMART detail page's blood pressure through real HTTP and a real browser: home readings
drawn apart from office ones with the series' mean and the home thresholds (ACC/AHA 2017,
section 4.2, Table 11), and each reading named by the guideline that applies to the patient
at the time (ACC/AHA 2017 adults; AAP 2017 ages 13-17; none under 13, where AAP 2017 needs
percentiles for age, sex and height; ACOG Practice Bulletin 222 in pregnancy). Every page
passes axe-core's WCAG 2.1 A and AA rules.

The charts are variants of carebundle's healthy patient (`home_bp_variants`), loaded into the
suite's FHIR server and opened from the demo EHR as a clinician would.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from accessibility import assert_accessible
from browser import save_screenshot
from demo_servers import DemoEhrServer
from fhir_servers import SekmetServer
from home_bp_variants import aged_patient, home_series_patient, pregnant_patient
from selenium import webdriver
from selenium.webdriver.common.by import By
from support import CdssServer
from test_pages_accessibility import open_detail_app
from test_smart_page import open_app, table_rows, text_of


@pytest.fixture(scope="module")
def variants(fhir_server: SekmetServer) -> dict[str, str]:
    """The variants loaded into the FHIR server, dated from today as the page reads them."""
    today = datetime.now(UTC).date()
    return {
        "home": fhir_server.load(home_series_patient(today)),
        "child": fhir_server.load(aged_patient(today, 8, "child")),
        "adolescent": fhir_server.load(aged_patient(today, 14, "adolescent")),
        "pregnant": fhir_server.load(pregnant_patient(today)),
    }


@pytest.fixture(scope="module")
def pages(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, variants: dict[str, str]
) -> dict[str, str]:
    """Each variant's detail page, as the app shows it."""
    shown = {}
    for name, patient_id in variants.items():
        with open_app(smart_service, demo_ehr, patient_id) as client:
            answer: httpx.Response = client.get("/smart/app")
        assert answer.status_code == 200
        shown[name] = answer.text
    return shown


def figure(page: str, key: str) -> str:
    found = re.search(rf'<figure id="trend-{key}"(.*?)</figure>', page, re.S)
    assert found is not None, f"no figure {key}"
    return found.group(1)


def section_text(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</div>', page, re.S)
    assert found is not None, f"no {element_id}"
    return " ".join(text_of(found.group(1)).split())


def test_home_readings_are_marked_apart_with_their_mean_and_thresholds(
    pages: dict[str, str],
) -> None:
    """ACC/AHA 2017, section 4.2: the home series (2 readings morning and evening for a week,
    the first day left out) is averaged and read against home 130/80 and 135/85 (Table 11);
    office 142/88 with home 124/76 is white-coat hypertension (Figure 2)."""
    page = pages["home"]
    rows = table_rows(page, "readings-blood-pressure")
    home_rows = [row for row in rows if row[4] == "Home"]
    office_rows = [row for row in rows if row[4] != "Home"]
    assert len(home_rows) == 28
    assert all("home reading; the series mean is what is read" in row[3] for row in home_rows)
    assert all("Stage" not in row[3] for row in home_rows)
    # Office 142/88: stage 2 by its systolic (ACC/AHA 2017).
    assert [row[3] for row in office_rows if row[1] == "142"] == ["Stage 2 hypertension range"] * 2
    for key in ("systolic", "diastolic"):
        drawn = figure(page, key).split('<ul class="legend"')[0]
        # Home readings as their own markers; office ones as the line's points.
        assert len(re.findall(r'<rect class="point-home"', drawn)) == 28
        assert len(re.findall(r'<circle class="point"', drawn)) == len(office_rows)
        assert 'class="home-mean"' in drawn
        assert len(re.findall(r'<line class="home-threshold"', drawn)) == 2
    legend = text_of(figure(page, "systolic").split('<ul class="legend"')[1])
    assert "Home readings" in legend
    assert "Home mean 124 (latest series)" in legend
    assert "Home threshold 130 mmHg (ACC/AHA 2017, Table 11)" in legend
    assert "Home threshold 135 mmHg" in legend
    series = section_text(page, "home-series")
    assert "mean 124/76 mmHg from 24 readings on 6 days" in series
    assert "home 135/85 = office 140/90" in series
    assert "White-coat hypertension" in series
    # The chart's own table says where each value was taken.
    values = table_rows(page, "values-systolic")
    assert sum(1 for row in values if row[-1] == "Home") == 28


def test_a_child_under_13_is_given_no_adult_category(pages: dict[str, str]) -> None:
    """AAP 2017: under 13, blood pressure is read by percentiles for age, sex and height; the
    adult ACC/AHA categories (124/82 would be "stage 1") do not apply."""
    page = pages["child"]
    rows = table_rows(page, "readings-blood-pressure")
    assert rows
    for row in rows:
        assert "Stage" not in row[3]
        assert "Elevated" not in row[3]
        assert "percentiles for age, sex and height" in row[3]
    assert 'class="band-' not in figure(page, "systolic")
    guidelines = text_of(re.findall(r'<p class="note" id="trend-guidelines">(.*?)</p>', page)[0])
    assert "under 13" in guidelines
    assert "percentiles for age, sex and height" in guidelines


def test_an_adolescents_readings_say_aap_2017_and_one_taken_at_12_says_none(
    pages: dict[str, str],
) -> None:
    """AAP 2017: ages 13-17 have the adult numbers under AAP's name; the reading taken two
    years ago, at 12, needed percentiles."""
    rows = table_rows(pages["adolescent"], "readings-blood-pressure")
    recent = [row[3] for row in rows if row[1] == "124"]
    assert recent == ["Stage 1 hypertension range (AAP 2017, ages 13-17)"] * 2
    (at_twelve,) = [row[3] for row in rows if row[1] == "134"]
    assert at_twelve.startswith("No adult category under 13")


def test_pregnancy_readings_are_named_by_acog(pages: dict[str, str]) -> None:
    """ACOG Practice Bulletin 222: 140/90 or more is the hypertensive range in pregnancy
    (160/110 severe), not an adult "stage 2"; a reading from before the pregnancy keeps the
    adult category."""
    page = pages["pregnant"]
    rows = table_rows(page, "readings-blood-pressure")
    (during,) = [row[3] for row in rows if row[1] == "142"]
    assert during == "Hypertensive range in pregnancy (ACOG: 140/90 or more)"
    (before,) = [row[3] for row in rows if row[1] == "128"]
    assert before == "Stage 1 hypertension range"
    drawn = figure(page, "systolic")
    assert "Hypertensive" in drawn
    assert "Stage 2" not in drawn


@pytest.mark.parametrize("name", ["home", "child", "pregnant"])
def test_the_blood_pressure_pages_are_accessible(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    variants: dict[str, str],
    browser: webdriver.Chrome,
    name: str,
) -> None:
    open_detail_app(browser, smart_service, demo_ehr, variants[name])
    assert browser.find_elements(By.CSS_SELECTOR, "#trend-systolic svg.trend")
    if name == "home":
        assert browser.find_element(By.ID, "home-series").is_displayed()
        assert browser.find_element(By.ID, "legend-systolic").is_displayed()
    save_screenshot(browser, f"smart-detail-blood-pressure-{name}", whole_page=True)
    assert_accessible(browser, f"SMART detail page, blood pressure ({name})")
