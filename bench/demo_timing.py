"""How long the demo takes to start, and to open a chart, by part.

Start-up, each part on its own with the demo's real parts, one after another:

- sekmet: `SekmetServer.start()` until its capability statement answers;
- synthea: the `synthea` program, 3 patients, the demo's seed; then the same read back from
  the folder where `cdss demo` keeps them for a later start;
- cast: the written cast's charts (`demo_ehr.cast.written_cast`), dated from today;
- load: the written charts and Synthea's 3 (marked as cast members) posted to sekmet as
  transaction Bundles, then SQLite's statistics gathered;
- serve: `cdss serve` (the demo's configuration, 2 workers) until `/readyz` answers.

Then, with `--whole N`, `cdss demo` itself N times in one folder, from the command until the
demo EHR's patient list answers: the first in a fresh folder, the later ones in the folder the
earlier run left (where the demo keeps what it may reuse).

Opening a chart: the demo EHR's chart page through its Flask app in-process, its HTTP client on a
transport that times each request it makes (body read included). Per open: the Patient read of
the page, discovery, each prefetch template's reads (every page), the hook calls, and rendering
(the page's time with no request in flight). Parts that overlap are given as wall time: the time
during which at least one of their requests was in flight.

Run from the repository root:

    .venv/bin/python bench/demo_timing.py --opens 3 --whole 2
    .venv/bin/python bench/demo_timing.py --opens 3 --whole 2 --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from report import machine_line, publish  # noqa: E402

from cds_service.auth.signing import generate_signing_key  # noqa: E402
from demo_ehr.app import DemoEhrConfig, create_demo_ehr  # noqa: E402
from demo_ehr.cast import synthea_members, written_cast  # noqa: E402
from demo_ehr.fhir_server import SekmetServer, free_port  # noqa: E402
from demo_ehr.patients import cached_synthea_patients, demo_synthea_run  # noqa: E402
from demo_ehr.runner import (  # noqa: E402
    CDSS,
    DEMO_ISSUER,
    start_service,
    wait_until_ready,
    write_service_config,
)

HEADING = "## The demo: start-up and opening a chart"
WHOLE_TIMEOUT_SECONDS = 300
T = TypeVar("T")


@dataclass(frozen=True)
class Timed:
    """One request the demo EHR made, from sending it to having its whole body."""

    method: str
    url: httpx.URL
    start: float
    end: float


class TimingTransport(httpx.BaseTransport):
    """An HTTP transport that records every request's time, its body read included."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.requests: list[Timed] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send, read the whole body, record."""
        start = time.perf_counter()
        response = self._inner.handle_request(request)
        response.read()
        with self._lock:
            self.requests.append(Timed(request.method, request.url, start, time.perf_counter()))
        return response

    def close(self) -> None:
        """Close the pooled connections."""
        self._inner.close()


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """The action's result and its wall time in seconds."""
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def covered(intervals: list[tuple[float, float]]) -> float:
    """How long at least one of the intervals was open (their union's length)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


@dataclass
class ChartOpen:
    """One chart open, split into parts (ms)."""

    total: float
    parts: dict[str, float]
    templates: dict[str, float]


def open_chart(
    app: Any, transport: TimingTransport, patient_id: str, fhir_base: str, cds_base: str
) -> ChartOpen:
    """Open one chart through the demo EHR's page and split its time by request."""
    transport.requests.clear()
    client = app.test_client()
    start = time.perf_counter()
    answer = client.get(f"/patients/{patient_id}")
    total = time.perf_counter() - start
    if answer.status_code != 200:
        raise RuntimeError(f"chart answered {answer.status_code}")
    requests = sorted(transport.requests, key=lambda r: r.start)
    discovery = [
        r for r in requests if r.method == "GET" and str(r.url) == cds_base + "/cds-services"
    ]
    discovered = discovery[0].start if discovery else start
    kinds: dict[str, list[tuple[float, float]]] = defaultdict(list)
    templates: dict[str, float] = defaultdict(float)
    for r in requests:
        span = (r.start, r.end)
        if r.method == "POST":
            kinds["hook calls"].append(span)
        elif r in discovery:
            kinds["discovery"].append(span)
        elif r.start < discovered:
            kinds["Patient read (page)"].append(span)
        else:
            kinds["prefetch"].append(span)
            resource_type = r.url.path.removeprefix(httpx.URL(fhir_base).path).strip("/")
            templates[resource_type.split("/", 1)[0]] += (r.end - r.start) * 1000
    parts = {name: covered(spans) * 1000 for name, spans in kinds.items()}
    every = [(r.start, r.end) for r in requests]
    parts["rendering (no request in flight)"] = (total - covered(every)) * 1000
    return ChartOpen(total * 1000, parts, dict(templates))


def chart_opens(
    fhir: SekmetServer,
    cds_base: str,
    key: dict[str, object],
    opens: int,
    cast: dict[str, str],
    verbose: bool,
) -> dict[tuple[str, bool], list[ChartOpen]]:
    """Each patient's chart (id -> kind) opened `opens` times, by (kind, first open or later)."""
    transport = TimingTransport()
    measured: dict[tuple[str, bool], list[ChartOpen]] = defaultdict(list)
    with httpx.Client(transport=transport, timeout=60) as client:
        app = create_demo_ehr(
            DemoEhrConfig(
                public_base_url=f"http://127.0.0.1:{free_port()}",
                upstream_fhir_url=fhir.base_url,
                upstream_token=fhir.access_token,
                clients={},
                cds_base_url=cds_base,
                issuer=DEMO_ISSUER,
                signing_key=key,
            ),
            client,
        )
        for patient_id, kind in cast.items():
            for n in range(opens):
                chart = open_chart(app, transport, patient_id, fhir.base_url, cds_base)
                measured[kind, n == 0].append(chart)
                if verbose:
                    calls = {
                        r.url.path: round((r.end - r.start) * 1000)
                        for r in transport.requests
                        if r.method == "POST"
                    }
                    print(kind, n, f"{chart.total:.0f}", chart.parts, calls, file=sys.stderr)
    return measured


def whole_demo(workdir: Path) -> float:
    """`cdss demo` in `workdir` until its patient list answers; seconds."""
    ehr, cds, fhir = free_port(), free_port(), free_port()
    ports = ["--ehr-port", str(ehr), "--cds-port", str(cds), "--fhir-port", str(fhir)]
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(CDSS), "demo", "--workdir", str(workdir), *ports],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + WHOLE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("cdss demo exited before its EHR answered")
            try:
                if httpx.get(f"http://127.0.0.1:{ehr}/", timeout=5).status_code == 200:
                    return time.perf_counter() - start
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("cdss demo's EHR did not answer")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def median_parts(opens: list[ChartOpen], field: str) -> dict[str, float]:
    """The median of each part (or template) over the opens; 0 where an open had none."""
    names = sorted({name for o in opens for name in getattr(o, field)})
    return {
        name: statistics.median(getattr(o, field).get(name, 0.0) for o in opens) for name in names
    }


def spread(values: list[float], digits: int = 0) -> str:
    """min / median / max."""
    return " / ".join(
        f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values))
    )


def _table(title: str, measured: dict[tuple[str, bool], list[ChartOpen]], field: str) -> list[str]:
    groups = sorted(measured, key=lambda group: (group[0], not group[1]))
    medians = {group: median_parts(measured[group], field) for group in groups}
    names = sorted({name for found in medians.values() for name in found})
    header = " | ".join(f"{kind}, {'first' if first else 'later'}" for kind, first in groups)
    first_column = "part" if field == "parts" else "resource type"
    rows = [title, "", f"| {first_column} | {header} |", "|---|" + "---:|" * len(groups)]
    for name in names:
        cells = " | ".join(f"{medians[group].get(name, 0):.0f}" for group in groups)
        rows.append(f"| {name} | {cells} |")
    if field == "parts":
        cells = " | ".join(spread([o.total for o in measured[group]]) for group in groups)
        rows.append(f"| **whole page** (min / median / max) | {cells} |")
    return [*rows, ""]


def report(
    command: str,
    line: str,
    start_up: dict[str, float],
    wholes: list[float],
    measured: dict[tuple[str, bool], list[ChartOpen]],
) -> str:
    """The section for docs/benchmarks.md."""
    rows = [HEADING, "", f"Command: `{command}`", "", line]
    rows += [
        "Start-up, each part on its own, one after another (s; `cdss demo` runs them side "
        "by side):",
        "",
    ]
    rows += ["| part | s |", "|---|---:|"]
    rows += [f"| {name} | {seconds:.1f} |" for name, seconds in start_up.items()]
    first_start = sum(seconds for name, seconds in start_up.items() if "reused" not in name)
    rows += [f"| sum, a first start one after another | {first_start:.1f} |", ""]
    if wholes:
        later = ", ".join(f"{w:.1f}" for w in wholes[1:])
        rows += [
            "`cdss demo` until the demo EHR's patient list answers: first run (fresh folder) "
            f"{wholes[0]:.1f} s"
            + (f"; later runs in the same folder {later} s." if later else "."),
            "",
        ]
    rows += _table(
        "Opening a chart (ms, median over the opens; each part by wall time):", measured, "parts"
    )
    rows += _table(
        "Prefetch reads by resource type (ms, each read's time summed over its pages and the "
        "services asking; reads in parallel each count):",
        measured,
        "templates",
    )
    return "\n".join(rows)


def main() -> None:
    """Measure the start-up parts, the chart opens and (optionally) the whole `cdss demo`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--opens", type=int, default=3, help="opens of each patient's chart")
    parser.add_argument("--whole", type=int, default=0, help="runs of the whole `cdss demo`")
    parser.add_argument("--write", type=Path)
    parser.add_argument("--verbose", action="store_true", help="each open's parts on stderr")
    options = parser.parse_args()
    started, load = datetime.now(UTC), os.getloadavg()
    parts: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="demo-timing-") as folder:
        workdir = Path(folder)
        fhir = SekmetServer()
        service = None
        try:
            _, parts["sekmet start"] = timed(fhir.start)
            run, kept = demo_synthea_run(), workdir / "kept"
            (synthea, _), parts["Synthea generation (3 patients)"] = timed(
                lambda: cached_synthea_patients(kept, run)
            )
            _, parts["Synthea's 3 patients reused from the demo's folder"] = timed(
                lambda: cached_synthea_patients(kept, run)
            )
            written, seconds = timed(lambda: written_cast(date.today()))
            parts[f"the written cast's charts ({len(written)} members)"] = seconds
            bundles = [("written", member.bundle) for member in written]
            bundles += [("Synthea", member.bundle) for member in synthea_members(synthea)]
            cast, parts[f"loading {len(bundles)} bundles into sekmet"] = timed(
                lambda: {fhir.load(bundle): kind for kind, bundle in bundles}
            )
            _, parts["statistics of sekmet's database (ANALYZE)"] = timed(
                fhir.refresh_search_statistics
            )
            key = generate_signing_key("ES384")
            cds_port = free_port()
            cds_base = f"http://127.0.0.1:{cds_port}"
            config = write_service_config(
                workdir, cds_base, f"http://127.0.0.1:{free_port()}", key, "unused", cds_port
            )
            serve_start = time.perf_counter()
            service = start_service(config, workdir)
            wait_until_ready(service, workdir, cds_base)
            parts["`cdss serve` start"] = time.perf_counter() - serve_start
            measured = chart_opens(fhir, cds_base, key, options.opens, cast, options.verbose)
        finally:
            if service is not None and service.poll() is None:
                service.send_signal(signal.SIGTERM)
                service.wait(timeout=30)
            fhir.stop()
        wholes = [whole_demo(workdir / "whole") for _ in range(options.whole)]
    command = ".venv/bin/python bench/demo_timing.py"
    command += f" --opens {options.opens} --whole {options.whole}"
    command += " --write docs/benchmarks.md" if options.write else ""
    section = report(command, machine_line(started, load), parts, wholes, measured)
    publish(section, options.write, REPO)


if __name__ == "__main__":
    main()
