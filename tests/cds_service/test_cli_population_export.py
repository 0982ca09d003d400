"""`cdss population export` end to end: the installed command against a Bulk Data server."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bulk_front import BulkFront, FrontFault
from support import CDSS, free_port

from demo_ehr.fhir_server import SekmetServer
from demo_ehr.patients import carebundle_patient

TOKEN = "population-export-token"


@pytest.fixture
def outputs(tmp_path: Path) -> list[tuple[str, Path]]:
    """Two patients and two observations, one NDJSON file each."""
    source = tmp_path / "source"
    source.mkdir()
    patients = source / "patients"
    patients.write_text(
        "".join(json.dumps({"resourceType": "Patient", "id": f"p{n}"}) + "\n" for n in (1, 2))
    )
    observations = source / "observations"
    observations.write_text(
        "".join(json.dumps({"resourceType": "Observation", "id": f"o{n}"}) + "\n" for n in (1, 2))
    )
    return [("Patient", patients), ("Observation", observations)]


@pytest.fixture
def front(outputs: list[tuple[str, Path]]) -> Iterator[BulkFront]:
    """A Bulk front that is busy for one poll, asks for no wait, and wants the token."""
    server = BulkFront(
        outputs, busy_polls=1, retry_after="0", access_token=TOKEN, groups=frozenset({"panel"})
    ).start()
    yield server
    server.stop()


def cdss_export(*args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    """Run `cdss population export` with the token (if any) in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSS_")}
    if token is not None:
        env["CDSS_BULK_TOKEN"] = token
    return subprocess.run(
        [str(CDSS), "population", "export", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_writes_the_files_and_the_manifest(front: BulkFront, tmp_path: Path) -> None:
    out = tmp_path / "export"
    done = cdss_export(
        "--fhir", front.base_url, "--output", str(out), "--group", "panel", "--type",
        "Patient,Observation",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "Patient.ndjson").read_text().count("\n") == 2
    assert (out / "Observation.ndjson").read_text().count("\n") == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert {item["type"]: item["count"] for item in manifest["output"]} == {
        "Patient": 2,
        "Observation": 2,
    }
    assert "Observation: 2" in done.stdout
    assert "Patient: 2" in done.stdout
    assert "downloaded 2/2 files" in done.stderr
    assert "_type=Patient%2CObservation" in front.kickoffs[0]
    assert "/Group/panel/$export" in front.kickoffs[0]
    assert TOKEN not in done.stdout + done.stderr + (out / "manifest.json").read_text()
    assert "/status/" not in done.stderr  # httpx does not log the status or file URLs


def test_the_command_exports_from_a_real_fhir_server(tmp_path: Path) -> None:
    server = SekmetServer().start()
    try:
        patient_id = server.load(carebundle_patient("type2_diabetes"))
        searched = server.get("Observation", subject=f"Patient/{patient_id}", _count=1000)
        out = tmp_path / "export"
        done = cdss_export(
            "--fhir", server.base_url, "--output", str(out), "--type", "Patient,Observation",
            token=server.access_token,
        )  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    (patient,) = [json.loads(line) for line in (out / "Patient.ndjson").read_text().splitlines()]
    assert patient["id"] == patient_id
    observations = (out / "Observation.ndjson").read_text().splitlines()
    assert len(observations) == len(searched["entry"]) > 0
    assert f"Observation: {len(observations)}" in done.stdout


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (FrontFault.EXPORT_FAILED, "the export failed: HTTP 500 (processing: An internal"),
        (FrontFault.FOREIGN_OUTPUT, "the server named a URL on another origin"),
    ],
)
def test_a_failed_export_exits_with_one_line_naming_it(
    outputs: list[tuple[str, Path]], tmp_path: Path, fault: FrontFault, message: str
) -> None:
    front = BulkFront(outputs, access_token=TOKEN, fault=fault).start()
    try:
        done = cdss_export("--fhir", front.base_url, "--output", str(tmp_path / "out"))
    finally:
        front.stop()
    assert done.returncode == 1
    (last,) = [line for line in done.stderr.splitlines() if line.strip()][-1:]
    assert last.startswith("Error: " + message)
    assert TOKEN not in done.stderr


def test_a_missing_token_and_an_unreachable_server_are_named(
    front: BulkFront, tmp_path: Path
) -> None:
    refused = cdss_export("--fhir", front.base_url, "--output", str(tmp_path / "a"), token=None)
    assert refused.returncode == 1
    assert "Error: the export kick-off was refused: HTTP 401" in refused.stderr
    nobody = f"http://127.0.0.1:{free_port()}/fhir"
    unreachable = cdss_export("--fhir", nobody, "--output", str(tmp_path / "b"))
    assert unreachable.returncode == 1
    assert "Error: the FHIR server could not be reached" in unreachable.stderr


def test_a_group_id_that_is_not_a_fhir_id_is_refused(tmp_path: Path) -> None:
    done = cdss_export(
        "--fhir", "http://127.0.0.1:9/fhir", "--output", str(tmp_path), "--group", "../Patient"
    )
    assert done.returncode == 2
    assert "not a FHIR id" in done.stderr
