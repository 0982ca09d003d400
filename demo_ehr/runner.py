"""`cdss demo`: a FHIR server with synthetic patients, the CDS service, and the demo EHR.

Everything runs on 127.0.0.1 and is made fresh in one folder: the FHIR server (sekmet) loaded
with the demo's cast (`demo_ehr.cast`: named charts written for the cards each should get, and
three Synthea histories with notes), a signing key for the demo EHR that the service is
configured to trust, the service itself (`cdss serve`, as in production), and the demo EHR's
pages, which list the cast with each member's line. Nothing is downloaded; the charts are
written from the day the demo starts, and Synthea's generated from a fixed seed.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType

import httpx
from werkzeug.serving import make_server

from cds_service.access_settings import token_digest
from cds_service.app import quieten_http_client_logs
from cds_service.auth.signing import generate_signing_key, public_key_set
from cds_service.settings import environment_without
from demo_ehr.app import DemoEhrConfig, create_demo_ehr
from demo_ehr.cast import cast_lines, synthea_members, written_cast
from demo_ehr.fhir_server import SekmetServer
from demo_ehr.patients import cached_synthea_patients, demo_synthea_run

CDSS = Path(sys.executable).with_name("cdss")
DEMO_ISSUER = "http://127.0.0.1/demo-ehr"
SMART_CLIENT_ID = "cdss-detail"
START_TIMEOUT_SECONDS = 120
# In the demo's folder: Synthea's patients, kept for the next start (`demo_ehr.patients`).
PATIENT_CACHE = "synthetic-patients"


@dataclass(frozen=True)
class DemoPorts:
    """Where each part listens on 127.0.0.1."""

    ehr: int = 8090
    cds: int = 8080
    fhir: int = 8091


def run_demo(workdir: Path, ports: DemoPorts, say: Callable[[str], None]) -> None:
    """Start everything, print where to go, and serve the demo EHR until interrupted."""
    # Absolute before anything names it: the service runs with the folder as its working
    # directory, where a relative path written into its configuration would resolve again.
    workdir = workdir.resolve()
    # SIGTERM (kill, a service manager) and SIGHUP (a closed terminal) end the demo as Ctrl-C
    # does, through the `finally` below that stops every child; Python's default for them ends
    # the process at once and leaves the FHIR server and the service running on their ports.
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _interrupt)
    workdir.mkdir(parents=True, exist_ok=True)
    quieten_http_client_logs()
    cds_base = f"http://127.0.0.1:{ports.cds}"
    ehr_base = f"http://127.0.0.1:{ports.ehr}"
    fhir = SekmetServer(port=ports.fhir)
    service: subprocess.Popen[bytes] | None = None
    try:
        key = generate_signing_key("ES384")
        admin_token = secrets.token_urlsafe(32)
        config = write_service_config(workdir, cds_base, ehr_base, key, admin_token, ports.cds)
        # The parts start side by side (measured: docs/benchmarks.md): the service first, as it
        # needs no patients and its start-up is the longest; Synthea in its own process while
        # sekmet starts and takes the written cast; then Synthea's patients.
        service = start_service(config, workdir)
        run = demo_synthea_run()
        # The day the charts are dated from: the cards read a chart as of today.
        today = date.today()
        written = written_cast(today)
        with ThreadPoolExecutor(1) as synthea:
            made = synthea.submit(cached_synthea_patients, workdir / PATIENT_CACHE, run)
            fhir.start()
            say(
                "Starting the FHIR server with the demo's patients, and the service (about 30 s"
                " on a busy 2-core machine, about 16 s once Synthea's patients are kept:"
                " docs/benchmarks.md)..."
            )
            for member in written:
                fhir.load(member.bundle)
            histories, reused = made.result()
        say(
            f"Synthea's patients reused from {run.cache_file(workdir / PATIENT_CACHE)}"
            if reused
            else "Synthea's patients generated and kept for the next start."
        )
        histories_cast = synthea_members(histories)
        for member in histories_cast:
            fhir.load(member.bundle)
        if not fhir.refresh_search_statistics():
            say("sekmet's database is not where expected: charts open slower (docs/benchmarks.md)")
        wait_until_ready(service, workdir, cds_base)
        with httpx.Client(timeout=30) as client:
            ehr = create_demo_ehr(
                DemoEhrConfig(
                    public_base_url=ehr_base,
                    upstream_fhir_url=fhir.base_url,
                    upstream_token=fhir.access_token,
                    clients={SMART_CLIENT_ID: (cds_base + "/smart/callback",)},
                    cds_base_url=cds_base,
                    issuer=DEMO_ISSUER,
                    signing_key=key,
                    cast=cast_lines([*written, *histories_cast]),
                ),
                client,
            )
            server = make_server("127.0.0.1", ports.ehr, ehr, threaded=True)
            say(
                f"\nDemo EHR:        {ehr_base}/   (open a patient to see the cards)\n"
                f"CDS service:     {cds_base}/cds-services\n"
                f"Admin page:      {cds_base}/admin   (token: {admin_token})\n"
                f"Service log:     {workdir / 'cdss.log'}\n"
                "Synthetic patients only. Stop with Ctrl-C."
            )
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.server_close()
    finally:
        # A second Ctrl-C (or SIGTERM) must not cut the stopping short and leave a child behind.
        for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop_signal, signal.SIG_IGN)
        if service is not None and service.poll() is None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.kill()
        fhir.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def write_service_config(
    workdir: Path, cds_base: str, ehr_base: str, key: dict[str, object], admin: str, port: int
) -> Path:
    """The service's configuration: it trusts the demo EHR's key and its FHIR front; its path."""
    jwks = workdir / "demo-ehr.jwks.json"
    jwks.write_text(json.dumps(public_key_set(key), indent=2) + "\n", encoding="utf-8")
    digest = token_digest(admin)
    config = workdir / "cdss.toml"
    lines = [
        "# Written by `cdss demo`: a service trusting the demo EHR, on 127.0.0.1.",
        "[server]",
        f"public_base_url = {json.dumps(cds_base)}",
        'host = "127.0.0.1"',
        f"port = {port}",
        "workers = 2",
        "[storage]",
        f"database_url = {json.dumps('sqlite:///' + str(workdir / 'cdss.db'))}",
        "[privacy]",
        f"patient_key_file = {json.dumps(str(workdir / 'cdss-patient.key'))}",
        "[smart]",
        f"allowed_issuers = [{json.dumps(ehr_base + '/fhir')}]",
        "[admin]",
        f"token_sha256 = [{json.dumps(digest)}]",
        f'token_names = {{ {json.dumps(digest)} = "demo administrator" }}',
        "[[auth.issuers]]",
        f"iss = {json.dumps(DEMO_ISSUER)}",
        f"jwks_file = {json.dumps(str(jwks))}",
        "# The one FHIR server the demo EHR's calls may name as fhirServer: its own FHIR front.",
        f"fhir_servers = [{json.dumps(ehr_base + '/fhir')}]",
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def start_service(config: Path, workdir: Path) -> subprocess.Popen[bytes]:
    """`cdss serve` with that configuration, as in production, logging to cdss.log."""
    with (workdir / "cdss.log").open("ab") as log:
        return subprocess.Popen(
            [str(CDSS), "serve", "--config", str(config)],
            cwd=workdir,
            env=environment_without("CDSS_"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_until_ready(process: subprocess.Popen[bytes], workdir: Path, cds_base: str) -> None:
    """Wait until the service answers `/readyz`; an error naming its log if it exits first."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cdss serve exited; see {workdir / 'cdss.log'}")
        try:
            if httpx.get(cds_base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"cdss serve did not become ready; see {workdir / 'cdss.log'}")
