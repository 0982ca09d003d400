"""Headless Chromium (Debian's `chromium` and `chromium-driver`) driven through WebDriver."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

# Screenshots of the pages under test, kept for people to look at (not compared): in
# test-artifacts/, or in the folder `CDSS_SCREENSHOTS` names (the docs' are made with
# `CDSS_SCREENSHOTS=docs/screenshots`, see docs/sandbox.md).
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SCREENSHOTS_VARIABLE = "CDSS_SCREENSHOTS"
# Nothing but the page under test: no updates, sync, translation or other calls out.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--window-size=1280,1800",
)


def headless_chromium() -> webdriver.Chrome:
    """A fresh headless Chromium; the drivers are Debian's, named explicitly (none downloaded)."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        raise RuntimeError(
            "chromium and chromium-driver are needed: bash scripts/install-system.sh"
        )
    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))


def navigating(driver: webdriver.Chrome, action: Callable[[], object]) -> None:
    """Do what loads a new page (a click, Enter in a form) and wait until the new page is there."""
    old_page: WebElement = driver.find_element(By.TAG_NAME, "html")
    action()
    WebDriverWait(driver, 10).until(expected_conditions.staleness_of(old_page))
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def save_screenshot(driver: webdriver.Chrome, name: str, whole_page: bool = False) -> Path:
    """Keep a screenshot of the page as it is now (all of its length with `whole_page`)."""
    folder = Path(os.environ.get(SCREENSHOTS_VARIABLE) or ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    size = driver.get_window_size()
    if whole_page:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(size["width"], max(int(height), size["height"]))
    driver.save_screenshot(str(path))
    if whole_page:
        driver.set_window_size(size["width"], size["height"])
    return path
