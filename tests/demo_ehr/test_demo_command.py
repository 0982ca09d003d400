"""`cdss demo` as a newcomer runs it: one command, then a browser on the demo EHR lists the cast,
each member with its line, each chart shows exactly the cards that member is in the demo for,
and the detail app opens from a card; Ctrl-C and SIGTERM stop everything it started.

One demo serves the module's tests up to the Ctrl-C that stops it (a start takes ~40 s); the
SIGTERM test starts its own. The browser tests keep the README's screenshots of the patient list
and of a chart with each kind of card (`CDSS_SCREENSHOTS=docs/screenshots`, see the README).
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from accessibility import assert_accessible
from browser import navigating, save_screenshot
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, select
from support import free_port

from cds_service.storage.tables import issued_card
from demo_ehr.cast import GROUP_LONG_HISTORIES, SYNTHEA_ROLES, written_cast
from demo_ehr.chart_writer import CastMember
from fhir_adapters.fhir_values import patient_name

CDSS = Path(sys.executable).with_name("cdss")
READY_WITHIN_SECONDS = 180
NOTE_SUMMARY = "note-summary"
# The service answers without the note summary while it is still being made (it waits 0.4 s):
# a chart whose only missing card is the summary is opened again, for at most this long.
NOTE_SUMMARY_WITHIN_SECONDS = 60
# What a card says of a part of the chart its service could not read (`fhir_adapters.gathering`).
UNREAD = "could not be read"
DIABETES_CARD_PREFIXES = ("diabetes-", "prediabetes-", "glucose-")
HOME_CARD_PREFIX = "home-bp-"
# The patient list's rows: the cast member, its chart, its name (as the template writes them).
CAST_ROW = re.compile(
    r'<tr data-cast="([^"]+)">\s*<th scope="row"><a href="(/patients/[^"]+)">([^<]*)</a>'
)
CARD_UUID = re.compile(r'<section class="card [^"]*" data-service="[^"]*" data-card="([^"]+)"')


def _diabetes_and_office_bp(cards: frozenset[str]) -> bool:
    diabetes = {card for card in cards if card.startswith(DIABETES_CARD_PREFIXES)}
    return bool(diabetes) and bool(cards - diabetes - {NOTE_SUMMARY})


# The README's chart screenshots: each the first member in the cast's order whose cards fit,
# and the service whose card the screenshot begins with (None: the chart's top).
CHART_SCREENSHOTS: tuple[tuple[str, Callable[[frozenset[str]], bool], str | None], ...] = (
    ("demo-chart-diabetes-and-blood-pressure", _diabetes_and_office_bp, None),
    ("demo-chart-pregnancy", lambda cards: any(c.startswith("pregnancy-") for c in cards), None),
    (
        "demo-chart-home-blood-pressure",
        lambda cards: any(c.startswith(HOME_CARD_PREFIX) for c in cards),
        None,
    ),
    ("demo-chart-note-summary", lambda cards: NOTE_SUMMARY in cards, NOTE_SUMMARY),
)


@dataclass(frozen=True)
class RunningDemo:
    """`cdss demo` started on free ports, and where each of its parts listens."""

    process: subprocess.Popen[bytes]
    ehr_base: str
    cds_base: str
    fhir_base: str
    workdir: Path

    def stopped_everything(self) -> bool:
        """Nothing the demo started still answers: the EHR, the service, the FHIR server."""
        for url in (self.ehr_base + "/", self.cds_base + "/healthz", self.fhir_base + "/metadata"):
            try:
                httpx.get(url, timeout=2)
            except httpx.TransportError:
                continue
            return False
        return True


@contextmanager
def started_demo(folder: Path) -> Iterator[RunningDemo]:
    """`cdss demo` run from `folder` on free ports, once the demo EHR answers; stopped after."""
    ehr, cds, fhir = free_port(), free_port(), free_port()
    log = (folder / "demo.log").open("wb")
    ports = ["--ehr-port", str(ehr), "--cds-port", str(cds), "--fhir-port", str(fhir)]
    # A relative --workdir, as the README's default `var/demo` is: the service it starts must
    # not resolve it a second time from inside that folder.
    process = subprocess.Popen(
        [str(CDSS), "demo", "--workdir", "var/demo", *ports],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    demo = RunningDemo(
        process,
        f"http://127.0.0.1:{ehr}",
        f"http://127.0.0.1:{cds}",
        f"http://127.0.0.1:{fhir}/fhir",
        folder / "var" / "demo",
    )
    try:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while time.monotonic() < deadline:
            assert process.poll() is None, (folder / "demo.log").read_text()
            try:
                if httpx.get(demo.ehr_base + "/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            raise AssertionError((folder / "demo.log").read_text())
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


@pytest.fixture
def running_demo(tmp_path: Path) -> Iterator[RunningDemo]:
    """A demo of the test's own, for a test that stops it."""
    with started_demo(tmp_path) as demo:
        yield demo


@pytest.fixture(scope="module")
def shared_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    """One demo for the module's tests, until the Ctrl-C test (the last to use it) stops it."""
    with started_demo(tmp_path_factory.mktemp("demo")) as demo:
        yield demo


@dataclass(frozen=True)
class ListedMember:
    """A cast member as the demo EHR's patient list shows it."""

    slug: str
    chart: str
    name: str
    reason: str


def expected_cast() -> dict[str, tuple[str | None, str, frozenset[str]]]:
    """Every member the demo loads, by slug: the written members' names (Synthea's come from
    its generator), their lines and their card types, as the cast declares them."""

    def name(member: CastMember) -> str:
        patient = next(
            entry["resource"]
            for entry in member.bundle["entry"]
            if entry["resource"]["resourceType"] == "Patient"
        )
        return patient_name(patient)

    # The demo wrote its charts from the day it started, as this does (the lines do not vary).
    cast: dict[str, tuple[str | None, str, frozenset[str]]] = {
        member.slug: (name(member), member.reason, frozenset(member.cards))
        for member in written_cast(date.today())
    }
    for slug, (reason, cards) in SYNTHEA_ROLES.items():
        cast[slug] = (None, reason, frozenset(cards))
    return cast


def listed_members(demo: RunningDemo) -> list[ListedMember]:
    """The patient list's cast rows, in its order."""
    page = httpx.get(demo.ehr_base + "/", timeout=30).text
    members = []
    for slug, chart, name in CAST_ROW.findall(page):
        row = page[page.index(f'data-cast="{slug}"') :]
        reason = re.search(r'<td class="reason">([^<]*)</td>', row)
        assert reason is not None, slug
        members.append(
            ListedMember(slug, chart, html.unescape(name), html.unescape(reason.group(1)))
        )
    return members


def opened_chart(demo: RunningDemo, chart: str) -> tuple[set[str], str]:
    """The card types a chart shows, and its page. Each card's type is the one the service
    recorded for the card's uuid when it issued it (a card carries no type of its own)."""
    page = httpx.get(demo.ehr_base + chart, timeout=60)
    assert page.status_code == 200, chart
    uuids = CARD_UUID.findall(page.text)
    engine = create_engine(f"sqlite:///{demo.workdir / 'cdss.db'}")
    try:
        with engine.connect() as connection:
            recorded = dict(
                connection.execute(
                    select(issued_card.c.card_uuid, issued_card.c.card_type).where(
                        issued_card.c.card_uuid.in_(uuids)
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert set(recorded) == set(uuids), "a card shown that the service did not record"
    return {str(card_type) for card_type in recorded.values()}, page.text


def opened_when_summarised(
    demo: RunningDemo, chart: str, declared: frozenset[str]
) -> tuple[set[str], str]:
    """The chart's card types and page; opened again while the note summary alone is missing."""
    deadline = time.monotonic() + NOTE_SUMMARY_WITHIN_SECONDS
    shown, page = opened_chart(demo, chart)
    while declared - shown == {NOTE_SUMMARY} and time.monotonic() < deadline:
        time.sleep(0.5)
        shown, page = opened_chart(demo, chart)
    return shown, page


def save_whole_page(browser: webdriver.Chrome, name: str) -> None:
    """A screenshot of the whole page: the window made as tall as the page and the browser's
    own frame (`save_screenshot`'s whole page leaves the frame's height out)."""
    size = browser.get_window_size()
    frame = size["height"] - int(browser.execute_script("return window.innerHeight"))
    # The body's height, not the document's: that is never less than the window's.
    height = int(browser.execute_script("return document.body.scrollHeight")) + 16
    browser.set_window_size(size["width"], height + frame)
    save_screenshot(browser, name)
    browser.set_window_size(size["width"], size["height"])


def test_the_patient_list_names_every_member_with_its_line(
    shared_demo: RunningDemo, browser: webdriver.Chrome
) -> None:
    cast = expected_cast()
    listed = listed_members(shared_demo)
    assert sorted(member.slug for member in listed) == sorted(cast)
    for member in listed:
        name, reason, _ = cast[member.slug]
        assert member.reason == reason, member.slug
        assert member.name, member.slug
        assert name is None or member.name == name, member.slug
    assert len({member.name for member in listed}) == len(listed), "two members share a name"
    # Synthea's histories close the list, under their own heading; nobody is listed uncast.
    assert [member.slug for member in listed][-len(SYNTHEA_ROLES) :] == list(SYNTHEA_ROLES)
    browser.get(shared_demo.ehr_base + "/")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#patients a")) == len(cast)
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#patients h2")]
    assert headings[-1] == GROUP_LONG_HISTORIES
    assert_accessible(browser, "the demo's patient list")
    save_whole_page(browser, "demo-patient-list")


def test_each_chart_shows_exactly_its_members_cards(shared_demo: RunningDemo) -> None:
    cast = expected_cast()
    wrong: dict[str, dict[str, set[str]]] = {}
    unread = []
    for member in listed_members(shared_demo):
        declared = cast[member.slug][2]
        shown, page = opened_when_summarised(shared_demo, member.chart, declared)
        if shown != declared:
            wrong[member.slug] = {"missing": declared - shown, "unexpected": shown - declared}
        # A written chart is read whole: its family history too, which the demo's FHIR server
        # cannot search by patient (the demo EHR reads it another way: `hook_player`).
        if member.slug not in SYNTHEA_ROLES and UNREAD in page:
            unread.append(member.slug)
    assert wrong == {}
    assert unread == []


def test_a_chart_for_each_kind_of_card(shared_demo: RunningDemo, browser: webdriver.Chrome) -> None:
    """The README's chart screenshots, each of a member whose chart shows that kind of card."""
    cast = expected_cast()
    listed = listed_members(shared_demo)
    for screenshot, fits, first_service in CHART_SCREENSHOTS:
        member = next(member for member in listed if fits(cast[member.slug][2]))
        declared = cast[member.slug][2]
        # The summary made by the other test, or made now (the page is then opened again).
        assert opened_when_summarised(shared_demo, member.chart, declared)[0] == declared
        browser.get(shared_demo.ehr_base + member.chart)
        assert browser.find_element(By.ID, "cast-line").text.endswith(cast[member.slug][1])
        assert len(browser.find_elements(By.CSS_SELECTOR, "section.card")) >= len(declared)
        if screenshot == CHART_SCREENSHOTS[0][0]:
            assert_accessible(browser, "a chart of the demo's cast")
        if first_service is None:
            save_whole_page(browser, screenshot)
        else:  # a long chart: the window's height, from that service's card on
            card = browser.find_element(
                By.CSS_SELECTOR, f"section.card[data-service='{first_service}']"
            )
            browser.execute_script("arguments[0].scrollIntoView();", card)
            save_screenshot(browser, screenshot)


def test_one_command_gives_an_ehr_with_cards_and_the_detail_app(
    shared_demo: RunningDemo, browser: webdriver.Chrome
) -> None:
    """The last test of the shared demo: its Ctrl-C stops it. The detail app is opened on a
    chart with a family history, which it reads through the demo EHR's FHIR front as the
    chart's prefetch was read (the FHIR server cannot search it by patient)."""
    ehr_base, cds_base = shared_demo.ehr_base, shared_demo.cds_base
    browser.get(ehr_base + "/")
    charts = [
        link.get_attribute("href") for link in browser.find_elements(By.CSS_SELECTOR, "#patients a")
    ]
    assert len(charts) == len(expected_cast())
    with_family = {
        member.slug
        for member in written_cast(date.today())
        if any(
            e["resource"]["resourceType"] == "FamilyMemberHistory" for e in member.bundle["entry"]
        )
    }
    chosen = [m.chart for m in listed_members(shared_demo) if m.slug in with_family]
    for chart in chosen:
        browser.get(ehr_base + chart)
        if browser.find_elements(By.CSS_SELECTOR, "a.smart-link"):
            break
    else:
        raise AssertionError("no chart with a family history shows a card with the detail app")
    assert browser.find_elements(By.CSS_SELECTOR, "section.card")
    link = browser.find_element(By.CSS_SELECTOR, "a.smart-link")
    navigating(browser, lambda: browser.execute_script("arguments[0].click();", link))
    assert browser.current_url == cds_base + "/smart/app"
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "Estimated probability" in page
    assert UNREAD not in page

    shared_demo.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert shared_demo.process.wait(timeout=60) == 0
    assert shared_demo.stopped_everything()


def test_sigterm_stops_everything_the_demo_started(running_demo: RunningDemo) -> None:
    """`kill`, a service manager or a closed terminal's SIGTERM/SIGHUP: Python's default would
    end the demo at once and leave the FHIR server and the service running on their ports."""
    running_demo.process.send_signal(signal.SIGTERM)
    running_demo.process.wait(timeout=60)
    assert running_demo.stopped_everything()
