"""`cdss demo` as a newcomer runs it: one command, then a browser on the demo EHR sees cards and
opens the detail app from one; Ctrl-C stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from browser import navigating, save_screenshot
from selenium import webdriver
from selenium.webdriver.common.by import By
from support import free_port

CDSS = Path(sys.executable).with_name("cdss")
READY_WITHIN_SECONDS = 180


@dataclass(frozen=True)
class RunningDemo:
    """`cdss demo` started on free ports, and where each of its parts listens."""

    process: subprocess.Popen[bytes]
    ehr_base: str
    cds_base: str
    fhir_base: str

    def stopped_everything(self) -> bool:
        """Nothing the demo started still answers: the EHR, the service, the FHIR server."""
        for url in (self.ehr_base + "/", self.cds_base + "/healthz", self.fhir_base + "/metadata"):
            try:
                httpx.get(url, timeout=2)
            except httpx.TransportError:
                continue
            return False
        return True


@pytest.fixture
def running_demo(tmp_path: Path) -> Iterator[RunningDemo]:
    """`cdss demo` on free ports, once the demo EHR answers."""
    ehr, cds, fhir = free_port(), free_port(), free_port()
    log = (tmp_path / "demo.log").open("wb")
    ports = ["--ehr-port", str(ehr), "--cds-port", str(cds), "--fhir-port", str(fhir)]
    # A relative --workdir, as the README's default `var/demo` is: the service it starts must
    # not resolve it a second time from inside that folder.
    process = subprocess.Popen(
        [str(CDSS), "demo", "--workdir", "var/demo", *ports],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    demo = RunningDemo(
        process,
        f"http://127.0.0.1:{ehr}",
        f"http://127.0.0.1:{cds}",
        f"http://127.0.0.1:{fhir}/fhir",
    )
    try:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "demo.log").read_text()
            try:
                if httpx.get(demo.ehr_base + "/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            raise AssertionError((tmp_path / "demo.log").read_text())
        yield demo
    finally:
        # Whatever happened, nothing is left running: SIGTERM stops every child the demo
        # started (sekmet runs in a session of its own, out of reach of the group's SIGKILL).
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_one_command_gives_an_ehr_with_cards_and_the_detail_app(
    running_demo: RunningDemo, browser: webdriver.Chrome
) -> None:
    ehr_base, cds_base = running_demo.ehr_base, running_demo.cds_base
    browser.get(ehr_base + "/")
    charts = [
        link.get_attribute("href") for link in browser.find_elements(By.CSS_SELECTOR, "#patients a")
    ]
    assert len(charts) == 8  # five carebundle profiles and three Synthea histories
    for chart in charts:
        browser.get(chart)
        if browser.find_elements(By.CSS_SELECTOR, "a.smart-link"):
            break
    else:
        raise AssertionError("no chart shows a card with the detail app")
    assert browser.find_elements(By.CSS_SELECTOR, "section.card")
    save_screenshot(browser, "demo-command-chart")
    link = browser.find_element(By.CSS_SELECTOR, "a.smart-link")
    navigating(browser, lambda: browser.execute_script("arguments[0].click();", link))
    assert browser.current_url == cds_base + "/smart/app"
    assert "Estimated probability" in browser.find_element(By.TAG_NAME, "main").text

    running_demo.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert running_demo.process.wait(timeout=60) == 0
    assert running_demo.stopped_everything()


def test_sigterm_stops_everything_the_demo_started(running_demo: RunningDemo) -> None:
    """`kill`, a service manager or a closed terminal's SIGTERM/SIGHUP: Python's default would
    end the demo at once and leave the FHIR server and the service running on their ports."""
    running_demo.process.send_signal(signal.SIGTERM)
    running_demo.process.wait(timeout=60)
    assert running_demo.stopped_everything()
