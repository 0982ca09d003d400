"""The Bulk Data client against sekmet's real `$export`, and against the Bulk front's faults."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from bulk_front import BulkFront, FrontFault

from demo_ehr.fhir_server import SekmetServer
from demo_ehr.patients import carebundle_patient
from fhir_adapters.bulk_export import BulkExportClient, retry_after_seconds
from fhir_adapters.bulk_manifest import (
    MANIFEST_FILE,
    BulkExportError,
    BulkExportRequest,
    BulkFault,
    BulkProgress,
    PollPolicy,
)

PANEL_GROUP = "outreach-panel"
# No waiting in the tests: the waits the client asks for are recorded, not slept.
NO_FLOOR = PollPolicy(floor_seconds=0.0, cap_seconds=30.0, initial_seconds=0.0)


class RecordedSleep:
    """Stands in for time.sleep: keeps the waits the client asked for, sleeps none of them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def bulk_sekmet() -> Iterator[tuple[SekmetServer, dict[str, str]]]:
    """sekmet with two carebundle patients and a Group naming only the first."""
    server = SekmetServer().start()
    try:
        ids = {
            profile: server.load(carebundle_patient(profile))
            for profile in ("type2_diabetes", "hypertension")
        }
        group = {
            "resourceType": "Group",
            "id": PANEL_GROUP,
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": f"Patient/{ids['type2_diabetes']}"}}],
        }
        answer = httpx.put(
            f"{server.base_url}/Group/{PANEL_GROUP}",
            json=group,
            headers={**server.headers, "Content-Type": "application/fhir+json"},
        )
        assert answer.status_code in (200, 201), answer.text
        yield server, ids
    finally:
        server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The HTTP client the Bulk client is handed."""
    with httpx.Client(timeout=30) as client:
        yield client


def resources_in(path: Path) -> list[dict[str, Any]]:
    """The resources of an NDJSON file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def ndjson(path: Path, resources: Sequence[Mapping[str, object]]) -> Path:
    """Write resources as NDJSON; the path."""
    path.write_text("".join(json.dumps(item) + "\n" for item in resources), encoding="utf-8")
    return path


@pytest.fixture
def outputs(tmp_path: Path) -> list[tuple[str, Path]]:
    """Two patients and three observations, the observations in two files."""
    source = tmp_path / "source"
    source.mkdir()
    patients = [{"resourceType": "Patient", "id": f"p{n}"} for n in (1, 2)]
    observations = [{"resourceType": "Observation", "id": f"o{n}"} for n in (1, 2, 3)]
    return [
        ("Patient", ndjson(source / "patients", patients)),
        ("Observation", ndjson(source / "obs-a", observations[:2])),
        ("Observation", ndjson(source / "obs-b", observations[2:])),
    ]


@pytest.fixture
def front(outputs: list[tuple[str, Path]]) -> Iterator[BulkFront]:
    """A Bulk front busy for two polls, a token required, one Group known."""
    server = BulkFront(
        outputs, busy_polls=2, retry_after="1", access_token="front-token", groups=frozenset({"g1"})
    ).start()
    yield server
    server.stop()


def test_system_export_from_sekmet_writes_every_resource(
    bulk_sekmet: tuple[SekmetServer, dict[str, str]], http: httpx.Client, tmp_path: Path
) -> None:
    server, ids = bulk_sekmet
    seen: list[BulkProgress] = []
    request = BulkExportRequest(
        server.base_url, resource_types=("Patient", "Observation"), access_token=server.access_token
    )
    result = BulkExportClient(http).export(request, tmp_path / "out", seen.append)
    patients = resources_in(tmp_path / "out" / "Patient.ndjson")
    assert {patient["id"] for patient in patients} == set(ids.values())
    counts = result.resources_by_type()
    observations = (tmp_path / "out" / "Observation.ndjson").read_text().splitlines()
    assert counts == {"Patient": 2, "Observation": len(observations)}
    assert counts["Observation"] > 0
    manifest = json.loads((tmp_path / "out" / MANIFEST_FILE).read_text())
    assert {item["type"]: item["count"] for item in manifest["output"]} == counts
    assert server.access_token not in (tmp_path / "out" / MANIFEST_FILE).read_text()
    assert result.transaction_time
    assert seen[-1].files_done == seen[-1].files_total == 2
    assert seen[-1].bytes_done == sum(item.size_bytes for item in result.files)


def test_group_export_from_sekmet_holds_only_the_group(
    bulk_sekmet: tuple[SekmetServer, dict[str, str]], http: httpx.Client, tmp_path: Path
) -> None:
    server, ids = bulk_sekmet
    request = BulkExportRequest(
        server.base_url,
        group=PANEL_GROUP,
        resource_types=("Patient", "Observation"),
        access_token=server.access_token,
    )
    result = BulkExportClient(http).export(request, tmp_path / "out")
    (patient,) = resources_in(tmp_path / "out" / "Patient.ndjson")
    assert patient["id"] == ids["type2_diabetes"]
    observations = resources_in(tmp_path / "out" / "Observation.ndjson")
    subjects = {item["subject"]["reference"] for item in observations}
    assert subjects == {f"Patient/{ids['type2_diabetes']}"}
    assert "Group/" + PANEL_GROUP in result.request


def test_sekmet_refuses_an_unknown_group_and_a_missing_token(
    bulk_sekmet: tuple[SekmetServer, dict[str, str]], http: httpx.Client, tmp_path: Path
) -> None:
    server, _ = bulk_sekmet
    client = BulkExportClient(http)
    unknown = BulkExportRequest(server.base_url, group="nobody", access_token=server.access_token)
    with pytest.raises(BulkExportError, match=r"404.*not-found") as refused:
        client.export(unknown, tmp_path / "a")
    assert refused.value.fault is BulkFault.KICKOFF_REFUSED
    with pytest.raises(BulkExportError, match="401") as denied:
        client.export(BulkExportRequest(server.base_url), tmp_path / "b")
    assert denied.value.fault is BulkFault.KICKOFF_REFUSED


def test_retry_after_is_honoured_on_every_busy_poll(
    front: BulkFront, http: httpx.Client, tmp_path: Path
) -> None:
    sleep = RecordedSleep()
    request = BulkExportRequest(front.base_url, group="g1", access_token="front-token")
    result = BulkExportClient(http, NO_FLOOR, sleep=sleep).export(request, tmp_path / "out")
    assert front.polls == result.polls == 3
    assert sleep.waits == [1.0, 1.0]
    assert front.kickoffs[0].split("?")[0].endswith("/fhir/Group/g1/$export")
    assert (tmp_path / "out" / "Observation.000.ndjson").read_text().count("\n") == 2
    assert (tmp_path / "out" / "Observation.001.ndjson").read_text().count("\n") == 1
    assert result.resources_by_type() == {"Patient": 2, "Observation": 3}
    assert front.deletes == 1  # the server was told it may drop the files
    assert set(front.authorizations) == {"Bearer front-token"}


def test_the_wait_stays_within_the_floor_and_the_cap(
    outputs: list[tuple[str, Path]], http: httpx.Client, tmp_path: Path
) -> None:
    front = BulkFront(outputs, busy_polls=2, retry_after="3600").start()
    try:
        sleep = RecordedSleep()
        policy = PollPolicy(floor_seconds=0.0, cap_seconds=5.0)
        BulkExportClient(http, policy, sleep=sleep).export(
            BulkExportRequest(front.base_url), tmp_path / "out"
        )
    finally:
        front.stop()
    assert sleep.waits == [5.0, 5.0]


def test_an_http_date_retry_after_is_read_as_a_wait() -> None:
    now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=9), usegmt=True), now) == 0
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("soon") is None


@pytest.mark.parametrize(
    ("fault", "waits"),
    [
        # 429 with Retry-After 0, one busy 202 (Retry-After 0), the manifest.
        (FrontFault.TOO_MANY_REQUESTS, [0.0, 0.0]),
        # 503 with a transient issue and no Retry-After: the client's own backoff, then as above.
        (FrontFault.UNAVAILABLE, [2.0, 0.0]),
    ],
)
def test_a_transient_status_answer_is_waited_out(
    outputs: list[tuple[str, Path]],
    http: httpx.Client,
    tmp_path: Path,
    fault: FrontFault,
    waits: list[float],
) -> None:
    front = BulkFront(outputs, busy_polls=1, fault=fault).start()
    try:
        sleep = RecordedSleep()
        policy = PollPolicy(floor_seconds=0.0, initial_seconds=2.0)
        result = BulkExportClient(http, policy, sleep=sleep).export(
            BulkExportRequest(front.base_url), tmp_path / "out"
        )
    finally:
        front.stop()
    assert front.polls == result.polls == 3
    assert sleep.waits == waits
    assert result.resources_by_type() == {"Patient": 2, "Observation": 3}


def test_the_token_stays_off_the_files_when_the_server_does_not_require_it(
    outputs: list[tuple[str, Path]], http: httpx.Client, tmp_path: Path
) -> None:
    front = BulkFront(outputs).start()  # its manifest says requiresAccessToken: false
    try:
        BulkExportClient(http, NO_FLOOR, sleep=RecordedSleep()).export(
            BulkExportRequest(front.base_url, access_token="kept-token"), tmp_path / "out"
        )
    finally:
        front.stop()
    kick_off, poll, *downloads, release = front.authorizations
    assert kick_off == poll == release == "Bearer kept-token"
    assert downloads == [None, None, None]


def test_the_time_limit_cancels_the_export(
    front: BulkFront, http: httpx.Client, tmp_path: Path
) -> None:
    request = BulkExportRequest(front.base_url, access_token="front-token", time_limit_seconds=0.5)
    with pytest.raises(BulkExportError, match="1 status polls") as late:
        BulkExportClient(http, NO_FLOOR, sleep=RecordedSleep()).export(request, tmp_path / "out")
    assert late.value.fault is BulkFault.TIMEOUT
    assert front.polls == 1
    assert front.deletes == 1


@pytest.mark.parametrize(
    ("fault", "expected", "message"),
    [
        (FrontFault.KICKOFF_REFUSED, BulkFault.KICKOFF_REFUSED, "not-supported: _type Basic"),
        (FrontFault.EXPORT_FAILED, BulkFault.EXPORT_FAILED, "500 .processing: An internal"),
        (FrontFault.FOREIGN_OUTPUT, BulkFault.FOREIGN_URL, r"output\[0\].url"),
        (FrontFault.WRONG_COUNT, BulkFault.MANIFEST_INVALID, "holds 2 resources, .* says 3"),
        (
            FrontFault.ERROR_FILE,
            BulkFault.EXPORT_FAILED,
            r"could not export every resource \(1 error issues",
        ),
        (FrontFault.FILE_GONE, BulkFault.DOWNLOAD_FAILED, "404"),
    ],
)
def test_each_fault_is_one_clear_error(
    outputs: list[tuple[str, Path]],
    http: httpx.Client,
    tmp_path: Path,
    fault: FrontFault,
    expected: BulkFault,
    message: str,
) -> None:
    front = BulkFront(outputs, access_token="secret-token", fault=fault).start()
    try:
        with pytest.raises(BulkExportError, match=message) as caught:
            BulkExportClient(http, NO_FLOOR, sleep=RecordedSleep()).export(
                BulkExportRequest(front.base_url, access_token="secret-token"), tmp_path / "out"
            )
    finally:
        front.stop()
    assert caught.value.fault is expected
    assert "secret-token" not in str(caught.value)
    if fault is FrontFault.FOREIGN_OUTPUT:
        assert front.downloads == 0  # refused before any file, so no token went there


def test_an_earlier_export_in_the_folder_is_not_mixed_in(
    front: BulkFront, http: httpx.Client, tmp_path: Path
) -> None:
    ndjson(tmp_path / "Patient.ndjson", [{"resourceType": "Patient", "id": "old"}])
    with pytest.raises(BulkExportError) as caught:
        BulkExportClient(http).export(BulkExportRequest(front.base_url), tmp_path)
    assert caught.value.fault is BulkFault.OUTPUT_UNUSABLE
    assert front.kickoffs == []


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("garbage"),
        httpx.TooManyRedirects("loop"),
        httpx.DecodingError("bad gzip"),
    ],
)
def test_every_httpx_error_becomes_a_bulk_export_error(
    error: httpx.HTTPError, tmp_path: Path
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    request = BulkExportRequest("http://127.0.0.1:9/fhir")
    with (
        httpx.Client(transport=httpx.MockTransport(fail)) as failing,
        pytest.raises(BulkExportError) as caught,
    ):
        BulkExportClient(failing).export(request, tmp_path / "out")
    assert caught.value.__cause__ is error
