"""Load benchmark: latency and throughput of `cdss serve` over HTTP, and the in-process cost.

Starts its own `cdss serve` on 127.0.0.1 (temporary folder, SQLite, 2 gunicorn workers), drives
it from a separate process with a pool of threads, each on its own keep-alive connection, then
times the same requests in-process through Flask's test client. Every hook call carries a fresh
single-use JWT, minted before timing starts. Prints a Markdown report.

Run from the repository root:

    .venv/bin/python bench/load.py                             # full run, prints the report
    .venv/bin/python bench/load.py --write docs/benchmarks.md  # ... and writes it there
    .venv/bin/python bench/load.py --quick                     # smoke test: a few seconds
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import logging
import math
import multiprocessing
import os
import platform
import shlex
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from report import publish  # noqa: E402

ISSUER = "https://bench-ehr.example.test"
TARGETS = ("discovery", "diabetes-risk", "hypertension-risk", "note-summary")
TOKEN_LIFETIME_SECONDS = 1800


@dataclass(frozen=True)
class Call:
    """One prepared request (its token, if any, already minted)."""

    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]


@dataclass(frozen=True)
class Result:
    """What one batch of timed requests gave."""

    latencies_ms: list[float]
    statuses: Counter[int]
    seconds: float


def _send(conn: http.client.HTTPConnection, call: Call) -> tuple[float, int]:
    """Runs in the load-generator process, which imports nothing but the standard library."""
    start = time.perf_counter()
    try:
        conn.request(call.method, call.path, body=call.body, headers=call.headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        conn.close()  # the next request reconnects
        status = 0
    return (time.perf_counter() - start) * 1000, status


def _drain(
    conn: http.client.HTTPConnection, calls: deque[Call], out: list[Any], deadline: float
) -> None:
    while time.monotonic() < deadline:
        try:
            call = calls.popleft()  # atomic: the threads share the queue
        except IndexError:
            return
        out.append(_send(conn, call))


def run_cell(
    port: int | tuple[int, ...],
    warmup: list[Call],
    timed: list[Call],
    concurrency: int,
    max_seconds: float,
) -> Result:
    """Send `warmup` (not counted), then `timed` from `concurrency` threads; time the latter.
    Given several ports (replicas), the threads connect to them in turn, as a balancer would."""
    ports = port if isinstance(port, tuple) else (port,)
    warm_queue, timed_queue = deque(warmup), deque(timed)
    barrier = threading.Barrier(concurrency + 1)
    outs: list[list[tuple[float, int]]] = [[] for _ in range(concurrency)]
    deadline = time.monotonic() + max_seconds

    def client(out: list[tuple[float, int]], replica_port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", replica_port, timeout=30)
        with contextlib.suppress(OSError):  # a failed connection shows as failed requests
            conn.connect()
        _drain(conn, warm_queue, [], deadline)
        barrier.wait()
        _drain(conn, timed_queue, out, deadline)
        conn.close()

    threads = [
        threading.Thread(target=client, args=(out, ports[n % len(ports)]))
        for n, out in enumerate(outs)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    done = [item for out in outs for item in out]
    return Result([ms for ms, _ in done], Counter(status for _, status in done), seconds)


BENCH_PATIENT = "synthea-1"  # a card from each risk service (tests/data/golden_cards)


@functools.cache
def full_prefetch() -> tuple[str, dict[str, Any]]:
    """A real chart's complete prefetch: Synthea patient `BENCH_PATIENT`'s."""
    from demo_ehr.patients import synthea_patients

    return chart_prefetch(synthea_patients()[BENCH_PATIENT])


def chart_prefetch(bundle: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The patient id and the complete prefetch of a chart, as an EHR fills the discovery
    templates from the chart's transaction `bundle`."""
    from fhir_adapters.codes import LOINC, RISK_OBSERVATION_LOINCS
    from fhir_adapters.patient_links import PATIENT_ELEMENT

    resources = [{"id": f"r{n}", **entry["resource"]} for n, entry in enumerate(bundle["entry"])]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    # A FHIR server's search results name their patient `Patient/{id}`; the transaction's
    # urn:uuid references, out of their Bundle, would be set aside as naming nobody.
    link = {"reference": f"Patient/{patient['id']}"}
    for resource in resources:
        element = PATIENT_ELEMENT.get(resource["resourceType"])
        if element is not None and element in resource:
            resource[element] = link

    def risk_observation(resource: dict[str, Any]) -> bool:
        codings = resource.get("code", {}).get("coding", [])
        return any(
            c.get("system") == LOINC and c.get("code") in RISK_OBSERVATION_LOINCS for c in codings
        )

    def searchset(keep: Any, limit: int | None = None) -> dict[str, Any]:
        found = [r for r in resources if keep(r)][:limit]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                "entry": [{"resource": r} for r in found]}  # fmt: skip

    def of_type(name: str) -> Any:
        return lambda r: r["resourceType"] == name

    prefetch = {
        "patient": patient,
        "observations": searchset(lambda r: of_type("Observation")(r) and risk_observation(r)),
        "conditions": searchset(of_type("Condition")),
        "medications": searchset(
            lambda r: of_type("MedicationRequest")(r) and r.get("status") == "active"
        ),
        "medicationStatements": searchset(of_type("MedicationStatement")),
        "familyHistory": searchset(of_type("FamilyMemberHistory")),
        "documents": searchset(of_type("DocumentReference"), 20),
        "reports": searchset(of_type("DiagnosticReport"), 20),
    }
    return patient["id"], prefetch


def hook_request_body(chart: tuple[str, dict[str, Any]] | None = None) -> bytes:
    """A valid patient-view request with a chart's complete prefetch (by default, a real one)."""
    patient_id, prefetch = chart or full_prefetch()
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/prac-1", "patientId": patient_id},
        "prefetch": prefetch,
    }
    return json.dumps(body).encode()


def build_calls(
    target: str,
    count: int,
    base_url: str,
    key: dict[str, Any],
    chart: tuple[str, dict[str, Any]] | None = None,
) -> list[Call]:
    """`count` requests for `target`, each hook call with its own freshly minted token."""
    from cds_service.auth.signing import sign_cds_token  # parent only: keeps the generator light

    if target == "discovery":
        return [Call("GET", "/cds-services", None, {})] * count
    path = f"/cds-services/{target}"
    calls = []
    for _ in range(count):
        token = sign_cds_token(
            key, issuer=ISSUER, audience=base_url + path, lifetime_seconds=TOKEN_LIFETIME_SECONDS
        )
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        calls.append(Call("POST", path, hook_request_body(chart), headers))
    return calls


def http_phase(
    args: argparse.Namespace, server: Any, key: dict[str, Any]
) -> dict[str, dict[int, Result]]:
    """Every target at every concurrency, from a separate (spawned) process."""
    results: dict[str, dict[int, Result]] = {target: {} for target in TARGETS}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as generator:
        for target in TARGETS:
            for concurrency in args.concurrency:
                warm = max(args.warmup, 2 * concurrency)
                calls = build_calls(target, warm + args.requests, server.base_url, key)
                job = (server.port, calls[:warm], calls[warm:], concurrency, args.max_seconds)
                results[target][concurrency] = result = generator.submit(run_cell, *job).result()
                print(f"{target} c={concurrency}: {summary(result)}", file=sys.stderr)
    return results


def _time_in_process(client: Any, call: Call) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.open(call.path, method=call.method, data=call.body, headers=call.headers)
    return (time.perf_counter() - start) * 1000, response.status_code


def in_process_phase(
    args: argparse.Namespace, config_file: Path, key: dict[str, Any]
) -> dict[str, Result]:
    """The same requests through Flask's test client, one at a time, with no HTTP server."""
    from cds_service.app import create_app
    from cds_service.cli import prepare
    from cds_service.server import settle_after_start
    from cds_service.settings import load_settings

    settings = load_settings(config_file, environ={})
    prepare(settings)
    # The app logs as it does under gunicorn, but to a file rather than over the report.
    logging.basicConfig(filename=config_file.parent / "in-process.log", level=logging.INFO)
    client = create_app(settings).test_client()
    settle_after_start()  # as a gunicorn worker does
    results: dict[str, Result] = {}
    for target in TARGETS:
        calls = build_calls(
            target, args.warmup + args.requests, settings.server.public_base_url, key
        )
        for call in calls[: args.warmup]:
            _time_in_process(client, call)
        start, deadline = time.perf_counter(), time.monotonic() + args.max_seconds
        done = []
        for call in calls[args.warmup :]:
            if time.monotonic() >= deadline:
                break
            done.append(_time_in_process(client, call))
        seconds = time.perf_counter() - start
        results[target] = Result([ms for ms, _ in done], Counter(s for _, s in done), seconds)
        print(f"in-process {target}: {summary(results[target])}", file=sys.stderr)
    return results


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (NaN when there are no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def errors(result: Result) -> str:
    """The count of non-200 answers, with the statuses (0 = connection failure)."""
    bad = {status: n for status, n in sorted(result.statuses.items()) if status != 200}
    detail = ", ".join(f"{status}: {n}" for status, n in bad.items())
    return f"{sum(bad.values())} ({detail})" if bad else "0"


def summary(result: Result) -> str:
    """One row's cells: requests, p50, p95, p99, req/s, errors."""
    count = len(result.latencies_ms)
    pcts = [f"{percentile(result.latencies_ms, p):.2f}" for p in (50, 95, 99)]
    rate = f"{count / result.seconds:.1f}" if result.seconds > 0 else "n/a"
    return " | ".join([str(count), *pcts, rate, errors(result)])


def render(
    args: argparse.Namespace, over_http: dict[str, dict[int, Result]], local: dict[str, Result]
) -> str:
    """The Markdown section."""
    command = shlex.join([".venv/bin/python", "bench/load.py", *sys.argv[1:]])
    header = "| requests | p50 ms | p95 ms | p99 ms | req/s | errors |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    lines = [
        "## HTTP load and in-process cost\n",
        f"Command: `{command}`\n",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n",
        f"Machine: `os.cpu_count()` = {os.cpu_count()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}. Server: `cdss serve`, gunicorn gthread, "
        f"{args.workers} workers, {args.threads} threads each, SQLite, on 127.0.0.1.\n",
        f"Each cell: {args.requests} timed requests after a warm-up of at least "
        f"{args.warmup} (not counted); percentiles are nearest-rank over every timed request.\n",
    ]
    for target in TARGETS:
        what = "GET /cds-services" if target == "discovery" else f"POST /cds-services/{target}"
        lines += [f"### {what}\n", f"| concurrency {header}", rule]
        lines += [f"| {c} | {summary(r)} |" for c, r in over_http[target].items()]
        lines.append("")
    lines += ["### In-process (Flask test client, sequential)\n", f"| target {header}", rule]
    lines += [f"| {target} | {summary(result)} |" for target, result in local.items()]
    lines += ["", "### Note\n", NOTE.format(cpus=os.cpu_count()), ""]
    return "\n".join(lines)


NOTE = (
    "The load generator runs on the same machine as the server and shares its {cpus} CPU cores "
    "with the gunicorn workers, so the throughput figures are a lower bound on what the service "
    "can do on this hardware, and the latency at higher concurrency includes waiting for a core. "
    "Tokens are signed before timing starts, so signing is not measured; the service's work "
    "(ES384 verification, the replay-store write, validation, building the record from the "
    "prefetch, the models, the cards, reading the patient's feedback history and recording "
    "the cards issued) is. Every hook call carries the complete prefetch of Synthea patient "
    "`synthea-1` (its risk observations, conditions, medications, notes), which gets one card "
    "from each risk service and a note summary (made on the first call, then served from the "
    "cache by content: first views are measured in the note summary section). Such a call "
    "costs about the in-process p50 in CPU time, so two "
    "cores serve at most two at once: beyond concurrency 2 the rising latency is the queue for "
    "a core, and the throughput the ceiling. The in-process "
    "figures skip the network and gunicorn but include the Werkzeug test client's own overhead; "
    "the gap between them and the concurrency-1 rows is roughly the cost of HTTP and gunicorn."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="timed requests per cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--warmup", type=int, default=20, help="uncounted requests per cell")
    add_run_options(parser, max_seconds=120)
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.concurrency, args.warmup = 30, [1, 4], 5
    return args


def add_run_options(parser: argparse.ArgumentParser, max_seconds: float) -> None:
    """The options of every HTTP load benchmark: the servers' gunicorn, the time limit per
    cell, where to write the report, the smoke run."""
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--max-seconds", type=float, default=max_seconds, help="per cell")
    parser.add_argument("--write", type=Path, help="also write the report (relative: to the repo)")
    parser.add_argument("--quick", action="store_true", help="tiny run, for a smoke test")


def start_server(
    args: argparse.Namespace, workdir: Path, key: dict[str, Any], code: Path | None = None
) -> Any:
    """`cdss serve` on a free port of 127.0.0.1, trusting `key`; served by the checkout `code`
    (first on PYTHONPATH) when one is given, else by this one."""
    from cds_service.auth.signing import public_key_set

    sys.path.insert(0, str(REPO / "tests"))
    from support import CdssServer

    jwks_file = workdir / "ehr-jwks.json"
    jwks_file.write_text(json.dumps(public_key_set(key)), encoding="utf-8")
    server = CdssServer(
        workdir=workdir / "server",
        database_url=f"sqlite:///{workdir / 'server' / 'cdss.db'}",
        config={"server": {"threads": args.threads}},
        issuers=[{"iss": ISSUER, "jwks_file": str(jwks_file)}],
        workers=args.workers,
        environment={} if code is None else {"PYTHONPATH": str(code)},
    )
    return server.start()


def report_server_log(log_file: Path) -> None:
    """Tell (on stderr) of warnings and errors the service logged."""
    lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    odd = [line for line in lines if any(w in line for w in ("WARNING", "ERROR", "Traceback"))]
    print(f"server log: {len(lines)} lines, {len(odd)} warnings/errors", file=sys.stderr)
    for line in odd[:10]:
        print(f"  {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print (and maybe write) the report."""
    from cds_service.auth.signing import generate_signing_key

    args = parse_args(argv)
    key = generate_signing_key("ES384", kid="bench-es384")
    with tempfile.TemporaryDirectory(prefix="cdss-bench-") as folder:
        server = start_server(args, Path(folder), key)
        try:
            over_http = http_phase(args, server, key)
        finally:
            server.stop()
            report_server_log(server.log_file)
        local = in_process_phase(args, server.config_file, key)
    publish(render(args, over_http, local), args.write, REPO)


if __name__ == "__main__":
    main()
