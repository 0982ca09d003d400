"""How soon the SMART detail page is usable after the token arrives, per demo patient.

Starts `cdss demo` (sekmet with the demo's synthetic patients, `cdss serve` with 2 gunicorn
workers, the demo EHR as the SMART authorization server, all on 127.0.0.1) on free ports, then
launches the app for each patient as the EHR would and times, over HTTP:

- callback: `GET /smart/callback` (the code exchanged for the token at the EHR, the session
  stored): the moment the token arrives is inside this request;
- page: `GET /smart/app` (the chart read with the token, the models run and explained, the
  trends drawn, the note summary if ready within its wait);
- usable: callback + page, from the browser's return to the app to the page in hand.

The first launch of each patient is reported apart: its notes are new to the summarizer (whose
page waits at most `NOTE_WAIT_SECONDS`). With `--browser`, headless Chromium also reports the
page's own Navigation Timing (request start to load event) for a later view.

Run from the repository root:

    .venv/bin/python bench/smart_page.py                             # prints the report
    .venv/bin/python bench/smart_page.py --browser --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from report import replace_section  # noqa: E402

from cds_service.smart.detail import NOTE_WAIT_SECONDS  # noqa: E402

CDSS = Path(sys.executable).with_name("cdss")
START_SECONDS = 180
HEADING = "## SMART detail page: from the token to a usable page"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("cdss demo exited before it was ready")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError("cdss demo did not become ready")


def _patients(ehr: str) -> list[str]:
    page = httpx.get(ehr + "/", timeout=30).text
    ids = []
    for part in page.split('href="/patients/')[1:]:
        ids.append(part.split('"', 1)[0])
    return ids


@dataclass(frozen=True)
class Launch:
    """One launch's times (ms) and the page's size."""

    callback: float
    page: float
    fhir: float
    size: int

    @property
    def usable(self) -> float:
        """From the token's arrival to the page in hand."""
        return self.callback + self.page


def _server_timing(header: str) -> dict[str, float]:
    timings = {}
    for part in header.split(","):
        name, _, duration = part.strip().partition(";dur=")
        timings[name] = float(duration)
    return timings


def launch_once(ehr: str, cds: str, patient: str) -> Launch:
    """One EHR launch, timed."""
    launch = httpx.post(ehr + "/launches", json={"patient": patient}, timeout=30).json()["launch"]
    with httpx.Client(timeout=60) as browser:
        started = browser.get(
            cds + "/smart/launch", params={"iss": ehr + "/fhir", "launch": launch}
        )
        approved = browser.get(started.headers["Location"])
        callback = approved.headers["Location"]
        assert "code" in parse_qs(urlsplit(callback).query)
        begin = time.perf_counter()
        back = browser.get(callback)
        middle = time.perf_counter()
        assert back.status_code == 303, back.text
        page = browser.get(cds + "/smart/app")
        end = time.perf_counter()
        assert page.status_code == 200, page.status_code
        fhir = _server_timing(page.headers["Server-Timing"])["fhir"]
        return Launch((middle - begin) * 1000, (end - middle) * 1000, fhir, len(page.content))


def browser_timing(ehr: str, cds: str, patient: str, repeats: int) -> list[float]:
    """Chromium's request-start-to-load-event of the page, after a launch (later views)."""
    sys.path.insert(0, str(REPO / "tests"))
    from browser import headless_chromium

    launch = httpx.post(ehr + "/launches", json={"patient": patient}, timeout=30).json()["launch"]
    driver = headless_chromium()
    try:
        driver.get(f"{cds}/smart/launch?iss={ehr}/fhir&launch={launch}")
        timings = []
        for _ in range(repeats):
            driver.get(cds + "/smart/app")
            entry = driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "return [n.requestStart, n.loadEventEnd];"
            )
            timings.append(entry[1] - entry[0])
        return timings
    finally:
        driver.quit()


def _p(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    """Run the demo, time the launches, print (and with --write, store) the report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--browser", action="store_true")
    parser.add_argument("--write", type=Path)
    options = parser.parse_args()
    ports = {name: _free_port() for name in ("ehr", "cds", "fhir")}
    ehr, cds = f"http://127.0.0.1:{ports['ehr']}", f"http://127.0.0.1:{ports['cds']}"
    with tempfile.TemporaryDirectory() as workdir:
        demo = subprocess.Popen(
            [str(CDSS), "demo", "--workdir", workdir]
            + [f"--{name}-port={port}" for name, port in ports.items()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(ehr + "/", demo)
            rows, first_views, later_all, own_all, browser_all = [], [], [], [], []
            for patient in _patients(ehr):
                first = launch_once(ehr, cds, patient)
                later = [launch_once(ehr, cds, patient) for _ in range(options.repeats)]
                usable = [launch.usable for launch in later]
                own = [launch.usable - launch.fhir for launch in later]
                first_views.append(first.usable)
                later_all += usable
                own_all += own
                rows.append(
                    f"| {len(rows) + 1} | {first.usable:.0f} | "
                    f"{statistics.median(usable):.0f} | {_p(usable, 0.95):.0f} | "
                    f"{statistics.median(launch.fhir for launch in later):.0f} | "
                    f"{statistics.median(own):.0f} | {_p(own, 0.95):.0f} | "
                    f"{later[-1].size / 1024:.0f} |"
                )
                if options.browser:
                    browser_all += browser_timing(ehr, cds, patient, 5)
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                demo.kill()
    command = "`.venv/bin/python bench/smart_page.py"
    command += " --browser" if options.browser else ""
    command += " --write docs/benchmarks.md`" if options.write else "`"
    lines = [
        HEADING,
        "",
        f"Command: {command} ({options.repeats} later launches per patient after a first; "
        f"`cdss serve` with 2 workers, SQLite, the demo EHR and sekmet on the same "
        f"{platform.machine()} machine, 2 cores)",
        "",
        "Times in ms. *Usable* = the callback that receives the token + the page request. "
        "*FHIR reads* = the part of the page spent reading the chart from the EHR's FHIR "
        "server (here the demo EHR's front over sekmet), from the page's `Server-Timing`; "
        "*the service's own* = usable minus FHIR reads. A first view waits at most "
        f"{NOTE_WAIT_SECONDS} s for the note summary, then shows the page without it.",
        "",
        "| demo patient | first view, usable | usable (median) | usable (p95) | "
        "FHIR reads (median) | service's own (median) | service's own (p95) | page KiB |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"All patients, later views: usable median {statistics.median(later_all):.0f} ms, "
        f"p95 {_p(later_all, 0.95):.0f} ms; the service's own median "
        f"{statistics.median(own_all):.0f} ms, p95 {_p(own_all, 0.95):.0f} ms, max "
        f"{max(own_all):.0f} ms; first views: max {max(first_views):.0f} ms.",
    ]
    if browser_all:
        lines += [
            "",
            f"Headless Chromium, request start to load event of the page (5 views per "
            f"patient): median {statistics.median(browser_all):.0f} ms, "
            f"max {max(browser_all):.0f} ms.",
        ]
    section = "\n".join(lines) + "\n"
    print(section)
    if options.write:
        replace_section(REPO / options.write, section)


if __name__ == "__main__":
    main()
