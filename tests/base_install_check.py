"""The EHR's side of scripts/check-base-install.sh: one signed `patient-view` to every service.

The service under check runs from the base install (`var/base-venv`, no extras); this script
runs with the development venv, which has the synthetic patients and a FHIR server. It loads one
Synthea patient into that FHIR server (sekmet) while the service starts, waits for it, reads
discovery, fills each service's prefetch templates against the FHIR server as an EHR does, signs
a token for each call with the base install's own `cdss token`, and checks that every service
answers 200 with at least one card. It prints one line per service and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from fhir_servers import SekmetServer, resolve_prefetch_as_an_ehr
from synthetic_patients import all_patients

PATIENT_VIEW = "patient-view"
# Discovery must list at least these; each must give a card for the patient below.
EXPECTED_SERVICES = ("diabetes-risk", "hypertension-risk", "note-summary")
# A Synthea history with notes whose chart gives a card from every service (prediabetes without
# a recent HbA1c, no blood pressure in 12 months, ten notes); every other synthetic patient
# misses at least one service's card.
DEFAULT_PATIENT = "synthea-1"
# The shipped embedder, which the base install must run (its card names the method).
SHIPPED_EMBEDDER = "all-MiniLM-L6-v2"
CALL_TIMEOUT_SECONDS = 60
PROGRESS_EVERY_SECONDS = 10


class CheckFailed(Exception):
    """The base install did not serve as it should; the message says how."""


def wait_until_ready(base_url: str, server_pid: int, timeout: float) -> None:
    """Poll `GET /readyz` until it answers 200, printing progress; fail when the server exits."""
    started = time.monotonic()
    next_progress = started + PROGRESS_EVERY_SECONDS
    last_problem = "no answer yet"
    while (waited := time.monotonic() - started) < timeout:
        if not process_alive(server_pid):
            raise CheckFailed(f"cdss serve (pid {server_pid}) exited before it was ready")
        try:
            response = httpx.get(f"{base_url}/readyz", timeout=5)
            if response.status_code == 200:
                return
            last_problem = f"/readyz answered {response.status_code}"
        except httpx.TransportError as error:
            last_problem = type(error).__name__
        if time.monotonic() >= next_progress:
            print(f"  waiting for {base_url}/readyz: {waited:.0f} s ({last_problem})", flush=True)
            next_progress += PROGRESS_EVERY_SECONDS
        time.sleep(0.5)
    raise CheckFailed(f"/readyz not ready within {timeout:.0f} s ({last_problem})")


def process_alive(pid: int) -> bool:
    """Whether a process with this id still runs (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A process that has exited but was not reaped yet is still there, as a zombie.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[-1][:1]
    except OSError:
        return False
    return state != "Z"


def signed_token(cdss: Path, key: Path, issuer: str, audience: str) -> str:
    """A token for one call, signed by the base install's `cdss token`."""
    result = subprocess.run(
        [str(cdss), "token", "--key", str(key), "--iss", issuer, "--aud", audience],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise CheckFailed(f"cdss token failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def call_service(
    base_url: str,
    service: dict[str, Any],
    fhir: SekmetServer,
    patient_id: str,
    token_for: Callable[[str], str],
) -> tuple[int, list[dict[str, Any]], str]:
    """One `patient-view` call with the prefetch an EHR would send: status, cards, body."""
    url = f"{base_url}/cds-services/{service['id']}"
    body = {
        "hook": PATIENT_VIEW,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/base-install-check", "patientId": patient_id},
        "prefetch": resolve_prefetch_as_an_ehr(fhir, service.get("prefetch", {}), patient_id),
    }
    response = httpx.post(
        url,
        json=body,
        headers={"Authorization": f"Bearer {token_for(url)}"},
        timeout=CALL_TIMEOUT_SECONDS,
    )
    cards: list[dict[str, Any]] = []
    if response.status_code == 200:
        cards = response.json().get("cards", [])
    return response.status_code, cards, response.text


def load_patient(fhir: SekmetServer, name: str) -> str:
    """Generate the synthetic patient and load it into the FHIR server; its id there."""
    started = time.monotonic()
    bundle = all_patients()[name]
    patient_id = fhir.load(bundle)
    took = time.monotonic() - started
    print(f"  patient {name}: {len(bundle['entry'])} resources, loaded in {took:.0f} s", flush=True)
    return patient_id


def check(args: argparse.Namespace) -> None:
    """Run the whole check; raises CheckFailed with what went wrong."""
    fhir = SekmetServer().start()
    try:
        # The patient is made while the service starts.
        with ThreadPoolExecutor(max_workers=1) as pool:
            loading = pool.submit(load_patient, fhir, args.patient)
            wait_until_ready(args.base_url, args.server_pid, args.ready_timeout)
            ready_after = time.time() - args.server_started
            print(f"  /readyz answered 200, {ready_after:.0f} s after cdss serve started")
            patient_id = loading.result()

        listed = httpx.get(f"{args.base_url}/cds-services", timeout=CALL_TIMEOUT_SECONDS)
        if listed.status_code != 200:
            raise CheckFailed(f"GET /cds-services answered {listed.status_code}")
        services = [s for s in listed.json().get("services", []) if s.get("hook") == PATIENT_VIEW]
        missing = sorted(set(EXPECTED_SERVICES) - {s["id"] for s in services})
        if missing:
            raise CheckFailed(f"discovery does not list {', '.join(missing)}")

        def token_for(url: str) -> str:
            return signed_token(args.cdss, args.key, args.issuer, url)

        failures = []
        for service in services:
            status, cards, text = call_service(args.base_url, service, fhir, patient_id, token_for)
            first = cards[0].get("summary", "") if cards else "-"
            print(f"  {service['id']:18} HTTP {status}  {len(cards)} card(s)  {first}", flush=True)
            if status != 200:
                failures.append(f"{service['id']} answered {status}: {text[:300]}")
            elif not cards:
                failures.append(f"{service['id']} answered no card for {args.patient}")
            elif service["id"] == "note-summary" and SHIPPED_EMBEDDER not in cards[0]["detail"]:
                failures.append(f"note-summary did not choose its excerpts by {SHIPPED_EMBEDDER}")
        if failures:
            raise CheckFailed("; ".join(failures))
    finally:
        fhir.stop()


def main(argv: list[str] | None = None) -> int:
    """Check the running base install; 0 when every service gave a card, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="where the service under check runs")
    parser.add_argument("--server-pid", type=int, required=True, help="its process id")
    parser.add_argument(
        "--server-started", type=float, required=True, help="when it started (Unix time)"
    )
    parser.add_argument("--cdss", type=Path, required=True, help="the base install's cdss")
    parser.add_argument("--key", type=Path, required=True, help="the EHR's private JWK")
    parser.add_argument("--issuer", required=True, help="the EHR's issuer (`iss`)")
    parser.add_argument("--patient", default=DEFAULT_PATIENT, help="a synthetic patient's name")
    parser.add_argument("--ready-timeout", type=float, default=180, help="seconds")
    args = parser.parse_args(argv)
    try:
        check(args)
    except CheckFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
