"""`fhirServer` cannot turn `cdss serve` into a scanner or a token courier (issue 18, item 5).

Each trusted issuer lists the FHIR servers its calls may name; any other is never contacted,
and the 412 reads the same whatever is (or is not) listening there. Credentials in the URL and
ids that leave their path are refused with a 400 before anything is fetched.
"""

from __future__ import annotations

import enum
import json
import socketserver
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import Mint
from pydantic import ValidationError
from support import CdssServer, free_port
from test_hooks_fhir_server import hook_call, locations

from cds_service.access_settings import IssuerSettings
from fhir_adapters import fhir_server as fhir_server_module

CLIENT_TIMEOUT_SECONDS = 30.0
PATIENT_ID = "ssrf-patient-1"
ACCESS_TOKEN = "ssrf-token-secret-2718"
REQUIRED_KEYS = ["prefetch.conditions", "prefetch.observations", "prefetch.patient"]
SERVICE_PATH = "/cds-services/diabetes-risk"


class Answer(enum.Enum):
    """What the listener answers every connection with."""

    FHIR = "fhir"  # a well-behaved FHIR server: the Patient, or an empty searchset
    GARBAGE = "garbage"  # bytes that are not HTTP
    UNAUTHORIZED = "401"
    REDIRECT = "302"


class RecordingListener:
    """A TCP listener on 127.0.0.1 that counts every connection made to it, then answers."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.paths: list[str] = []
        self._lock = threading.Lock()
        listener = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with listener._lock:
                    listener.connections += 1
                request_line = self.rfile.readline(8192).decode("latin-1")
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                path = request_line.split(" ")[1] if request_line.count(" ") >= 2 else ""
                with listener._lock:
                    listener.paths.append(path)
                self.wfile.write(listener.reply(path))

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        """The FHIR base URL to name as `fhirServer`."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/fhir"

    def reply(self, path: str) -> bytes:
        """The bytes sent back for a request of `path`."""
        if self.answer is Answer.GARBAGE:
            return b"\x00\x17not http at all\r\n\r\n"
        if self.answer is Answer.UNAUTHORIZED:
            return b"HTTP/1.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
        if self.answer is Answer.REDIRECT:
            return (
                b"HTTP/1.0 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n"
            )
        resource: dict[str, Any] = (
            {"resourceType": "Patient", "id": PATIENT_ID, "gender": "female"}
            if "/Patient/" in path
            else {"resourceType": "Bundle", "type": "searchset", "total": 0}
        )
        body = json.dumps(resource).encode()
        head = (
            "HTTP/1.0 200 OK\r\nContent-Type: application/fhir+json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def stop(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def listed() -> Iterator[RecordingListener]:
    """The FHIR server the trusted issuer lists."""
    server = RecordingListener(Answer.FHIR)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def listed_but_closed() -> str:
    """A FHIR server the issuer lists, where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/fhir"


@pytest.fixture(scope="module")
def listed_but_refusing_the_token() -> Iterator[RecordingListener]:
    """A FHIR server the issuer lists, answering 401 to everything."""
    server = RecordingListener(Answer.UNAUTHORIZED)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(
    start_server: Callable[..., CdssServer],
    listed: RecordingListener,
    listed_but_closed: str,
    listed_but_refusing_the_token: RecordingListener,
) -> CdssServer:
    """`cdss serve` whose issuers list three FHIR servers (one written unnormalised)."""
    server: CdssServer = start_server(
        "sqlite",
        fhir_servers=[
            listed.base_url.upper().replace("/FHIR", "/fhir/"),
            listed_but_closed,
            listed_but_refusing_the_token.base_url,
        ],
    )
    return server


@pytest.fixture(scope="module")
def unlisting_service(start_server: Callable[..., CdssServer]) -> CdssServer:
    """`cdss serve` whose issuers list no FHIR server at all: none may be contacted."""
    server: CdssServer = start_server("sqlite")
    return server


@pytest.fixture
def listener() -> Iterator[Callable[[Answer], RecordingListener]]:
    started: list[RecordingListener] = []

    def start(answer: Answer) -> RecordingListener:
        server = RecordingListener(answer)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def hook_body(fhir_server: str, patient_id: str = PATIENT_ID) -> dict[str, Any]:
    """A call with nothing prefetched, everything to come from `fhir_server`."""
    return hook_call(patient_id, fhir_server, ACCESS_TOKEN)


def post(service: CdssServer, mint: Mint, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        service.base_url + SERVICE_PATH,
        json=body,
        headers={"Authorization": f"Bearer {mint(service, SERVICE_PATH)}"},
        timeout=CLIENT_TIMEOUT_SECONDS,
    )


def assert_no_secrets(service: CdssServer, response: httpx.Response) -> None:
    log = service.log_file.read_text()
    for secret in (PATIENT_ID, ACCESS_TOKEN):
        assert secret not in log
        assert secret not in response.text


@pytest.mark.parametrize("which", ["no server listed", "another server listed"])
def test_an_unlisted_fhir_server_is_never_contacted_and_the_412_says_nothing_of_it(
    which: str,
    service: CdssServer,
    unlisting_service: CdssServer,
    mint: Mint,
    listener: Callable[[Answer], RecordingListener],
) -> None:
    cdss = unlisting_service if which == "no server listed" else service
    targets = [
        listener(answer) for answer in (Answer.GARBAGE, Answer.UNAUTHORIZED, Answer.REDIRECT)
    ]
    refusing = f"http://127.0.0.1:{free_port()}/fhir"

    responses = [
        post(cdss, mint, hook_body(url)) for url in (refusing, *(t.base_url for t in targets))
    ]

    assert [target.connections for target in targets] == [0, 0, 0]
    for response in responses:
        assert response.status_code == 412, response.text
        assert locations(response) == REQUIRED_KEYS
        assert_no_secrets(cdss, response)
    # A refused connection, garbage, a 401 and a 302 cannot be told apart by the caller.
    assert all(response.json() == responses[0].json() for response in responses)


def test_a_listed_fhir_server_is_read(
    service: CdssServer, mint: Mint, listed: RecordingListener
) -> None:
    before = listed.connections

    response = post(service, mint, hook_body(listed.base_url))

    assert response.status_code == 200, response.text
    assert listed.connections > before
    assert_no_secrets(service, response)


def test_every_fault_of_a_listed_fhir_server_reads_as_an_unlisted_one(
    service: CdssServer,
    mint: Mint,
    listed_but_closed: str,
    listed_but_refusing_the_token: RecordingListener,
    unlisting_service: CdssServer,
) -> None:
    refused_connection = post(service, mint, hook_body(listed_but_closed))
    refused_token = post(service, mint, hook_body(listed_but_refusing_the_token.base_url))
    never_contacted = post(unlisting_service, mint, hook_body(listed_but_closed))

    assert listed_but_refusing_the_token.connections > 0
    for response in (refused_connection, refused_token, never_contacted):
        assert response.status_code == 412, response.text
        assert response.json() == never_contacted.json()
    # The detail stays in the log, for the integrator.
    log = service.log_file.read_text()
    assert "could not be reached" in log
    assert "refused the token (401)" in log


@pytest.mark.parametrize(
    "fhir_server",
    [
        "http://reader:secret@127.0.0.1:{port}/fhir",
        "http://reader@127.0.0.1:{port}/fhir",
        "http://:secret@127.0.0.1:{port}/fhir",
    ],
)
def test_credentials_in_the_fhir_server_url_are_a_400(
    fhir_server: str,
    unlisting_service: CdssServer,
    mint: Mint,
    listener: Callable[[Answer], RecordingListener],
) -> None:
    target = listener(Answer.FHIR)
    port = target.base_url.split(":")[2].split("/")[0]

    response = post(unlisting_service, mint, hook_body(fhir_server.format(port=port)))

    assert response.status_code == 400, response.text
    assert locations(response) == ["fhirServer"]
    assert "secret" not in response.text
    assert target.connections == 0


@pytest.mark.parametrize("patient_id", ["..", "."])
def test_a_patient_id_that_leaves_its_path_is_a_400_and_nothing_is_fetched(
    patient_id: str, service: CdssServer, mint: Mint, listed: RecordingListener
) -> None:
    before = listed.connections
    body = hook_body(listed.base_url, patient_id)
    del body["fhirAuthorization"]["patient"]

    response = post(service, mint, body)

    assert response.status_code == 400, response.text
    assert "context.patientId" in locations(response)
    assert listed.connections == before


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"userId": "Practitioner/.."}, "context.userId"),
        ({"encounterId": ".."}, "context.encounterId"),
    ],
)
def test_other_ids_that_leave_their_path_are_a_400(
    change: dict[str, str],
    location: str,
    service: CdssServer,
    mint: Mint,
    listed: RecordingListener,
) -> None:
    before = listed.connections
    body = hook_body(listed.base_url)
    body["context"].update(change)

    response = post(service, mint, body)

    assert response.status_code == 400, response.text
    assert locations(response) == [location]
    assert listed.connections == before


def test_a_token_limited_to_a_dot_dot_patient_is_a_400(
    service: CdssServer, mint: Mint, listed: RecordingListener
) -> None:
    body = hook_body(listed.base_url)
    body["fhirAuthorization"]["patient"] = ".."

    response = post(service, mint, body)

    assert response.status_code == 400, response.text
    assert locations(response) == ["fhirAuthorization.patient"]


@pytest.mark.parametrize(
    ("written", "same_as"),
    [
        ("HTTPS://FHIR.Example.org/r4/", "https://fhir.example.org/r4"),
        ("https://fhir.example.org:443/r4", "https://fhir.example.org/r4"),
        ("http://fhir.example.org:80/r4/", "http://fhir.example.org/r4"),
        ("http://[::1]:8080/fhir", "http://[::1]:8080/fhir"),
    ],
)
def test_fhir_server_urls_compare_normalised(written: str, same_as: str) -> None:
    normalised = fhir_server_module.normalised_base_url
    assert normalised(written) == normalised(same_as)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://fhir.example.org/r4", "https://fhir.example.org/R4"),
        ("https://fhir.example.org/r4", "http://fhir.example.org/r4"),
        ("https://fhir.example.org/r4", "https://fhir.example.org:8443/r4"),
        ("https://fhir.example.org/r4", "https://fhir.example.org/r4/Patient"),
    ],
)
def test_other_fhir_server_urls_stay_apart(one: str, other: str) -> None:
    normalised = fhir_server_module.normalised_base_url
    assert normalised(one) != normalised(other)


@pytest.mark.parametrize(
    "url",
    ["Patient/..", "Patient/.", "Patient/%2e%2e", "Observation/../../admin?x=1", "/../x"],
)
def test_a_query_whose_path_climbs_out_is_not_requested(url: str) -> None:
    with pytest.raises(fhir_server_module.FhirForeignUrl):
        fhir_server_module.url_on_server("http://fhir.example.test/fhir", url)


def test_with_jwt_checks_off_only_a_fhir_server_on_this_machine_is_read(
    start_server: Callable[..., CdssServer], listed: RecordingListener
) -> None:
    # Anyone may call a service with JWT checks off: no issuer's list can apply to them.
    cdss = start_server("sqlite", auth={"verify_jwt": False})
    before = listed.connections
    remote = "http://fhir.example.test/fhir"

    on_this_machine = httpx.post(
        cdss.base_url + SERVICE_PATH,
        json=hook_body(listed.base_url.replace("127.0.0.1", "localhost")),
        timeout=CLIENT_TIMEOUT_SECONDS,
    )
    elsewhere = httpx.post(
        cdss.base_url + SERVICE_PATH, json=hook_body(remote), timeout=CLIENT_TIMEOUT_SECONDS
    )

    assert on_this_machine.status_code == 200, on_this_machine.text
    assert listed.connections > before
    assert elsewhere.status_code == 412, elsewhere.text
    assert "fhirServer http://fhir.example.test is not among" in cdss.log_file.read_text()
    cdss.stop()


@pytest.mark.parametrize(
    ("fhir_server", "refused_for"),
    [
        ("https://reader:hunter2@fhir.example.org/r4", "no credentials"),
        ("https://fhir.example.org/r4?_format=json", "no query"),
        ("ftp://fhir.example.org/r4", "not the absolute http(s) base URL"),
        ("https://fhir.example.org:99999/r4", "port"),
    ],
)
def test_an_issuer_cannot_list_a_fhir_server_the_service_would_misuse(
    fhir_server: str, refused_for: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        IssuerSettings(
            iss="https://ehr.example.org", jwks={"keys": []}, fhir_servers=(fhir_server,)
        )
    # What the service says of a bad configuration: the messages, not the values given.
    said = [error["msg"] for error in refused.value.errors(include_input=False)]
    assert refused_for in " ".join(said)
    assert "hunter2" not in " ".join(said)
