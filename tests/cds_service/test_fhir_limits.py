"""A FHIR server that answers too much, or too slowly, cannot exhaust `cdss serve` (issue 18).

Misbehaving FHIR servers on 127.0.0.1: one sends a body past the byte cap (declared, or endless),
one trickles a byte every 0.3 s, of its body or of its headers. The hook call is answered with
the spec's 412 naming the data that could not be had, the service stops reading at the cap and
hangs up at the deadline, and a caller whose FHIR server trickles does not take the fetch threads
another caller's FHIR server needs.
"""

from __future__ import annotations

import enum
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from conftest import ALLOWED_TENANT, TENANT_ISSUER, Mint
from support import CdssServer, LoopbackHttpServer
from test_hooks_fhir_server import hook_call, locations

BUDGET_SECONDS = 2.0
# Generous: the call must come back, and with the right answer; how fast is not measured here.
CLIENT_TIMEOUT_SECONDS = 30.0
MAX_RESPONSE_BYTES = 64 * 1024
MAX_CALL_BYTES = 256 * 1024
FETCH_THREADS = 4
FETCHES_PER_SERVER = 2
# The most an unbounded reader would take before the server gives up by itself: well past
# the cap plus what the sockets buffer, so reading it all is told apart from stopping at the cap.
SERVER_GIVES_UP_AFTER_BYTES = 256 * 1024 * 1024
# What may sit in the kernel's socket buffers beyond what the service read (the server's send
# buffer is kept small; the service's receive buffer grows to a few MB per connection).
SOCKET_BUFFER_SLACK_BYTES = 48 * 1024 * 1024
SERVER_SEND_BUFFER_BYTES = 64 * 1024
TRICKLE_INTERVAL_SECONDS = 0.3
TRICKLE_GIVES_UP_AFTER_SECONDS = 60.0
PATIENT_ID = "limits-patient-4711"
ACCESS_TOKEN = "limits-token-secret-0815"
REQUIRED_KEYS = ["prefetch.conditions", "prefetch.observations", "prefetch.patient"]


class Behaviour(enum.Enum):
    """How the FHIR server answers every request."""

    DECLARED_TOO_LARGE = "declared-too-large"  # Content-Length past the cap, then the body
    ENDLESS = "endless"  # no length, bytes until the server gives up
    TRICKLE = "trickle"  # one byte every 0.3 s
    TRICKLE_HEADERS = "trickle-headers"  # a status line, then one header byte every 0.3 s
    WELL = "well"  # an empty searchset, or the Patient
    # Trickles to ACCESS_TOKEN, answers well to any other: one server, two callers.
    TRICKLE_TO_ONE_CALLER = "trickle-to-one-caller"


class MisbehavingFhirServer:
    """A FHIR server on 127.0.0.1 that misbehaves one way, and gives up by itself."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.bytes_sent = 0
        self.open_connections = 0
        # Answers the service hung up on (the server's next write failed), and answers the
        # server ended by itself.
        self.hung_up_on = 0
        self.answered_to_the_end = 0
        # TRICKLE_TO_ONE_CALLER: the connections trickled to, and how many of them the service
        # still held open when each request of the other caller came in.
        self.trickled_to: list[socket.socket] = []
        self.held_when_the_other_caller_asked: list[int] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = LoopbackHttpServer(self._handler_class())

    @property
    def base_url(self) -> str:
        """The FHIR base URL to hand to the service."""
        return f"{self._http.origin}/fhir"

    def start(self) -> MisbehavingFhirServer:
        """Serve in a background thread."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and end every answer still being sent."""
        self._stopping.set()
        self._http.stop()

    def _send(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        with self._lock:
            self.bytes_sent += len(data)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one GET the way this server misbehaves."""
        with self._lock:
            self.open_connections += 1
        try:
            self._answer(handler)
        except OSError:
            # The service hung up: what the tests expect of it.
            with self._lock:
                self.hung_up_on += 1
        else:
            with self._lock:
                self.answered_to_the_end += 1
        finally:
            with self._lock:
                self.open_connections -= 1

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        if self.behaviour is Behaviour.TRICKLE_HEADERS:
            self._send(handler, b"HTTP/1.0 200 OK\r\nX-Slow: ")
            self._trickle_body(handler)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/fhir+json")
        behaviour = self.behaviour
        if behaviour is Behaviour.TRICKLE_TO_ONE_CALLER:
            trickled = handler.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}"
            behaviour = Behaviour.TRICKLE if trickled else Behaviour.WELL
            with self._lock:
                if trickled:
                    self.trickled_to.append(handler.connection)
                else:
                    held = sum(not _hung_up(connection) for connection in self.trickled_to)
                    self.held_when_the_other_caller_asked.append(held)
            if trickled:
                self._trickle(handler)
                return
        if behaviour is Behaviour.WELL:
            body = json.dumps(_well_answer(handler.path)).encode()
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            self._send(handler, body)
            return
        # Only the answer that declares its size does: a trickle that declared 256 MB would be
        # refused at its headers, not held until the deadline.
        if behaviour is Behaviour.DECLARED_TOO_LARGE:
            handler.send_header("Content-Length", str(SERVER_GIVES_UP_AFTER_BYTES))
        handler.end_headers()
        self._send(handler, b'{"resourceType": "Bundle", "type": "searchset", "entry": [')
        if behaviour is Behaviour.TRICKLE:
            self._trickle_body(handler)
            return
        block = b" " * 65536
        while self.bytes_sent < SERVER_GIVES_UP_AFTER_BYTES and not self._stopping.is_set():
            self._send(handler, block)

    def _trickle(self, handler: BaseHTTPRequestHandler) -> None:
        handler.end_headers()
        self._send(handler, b'{"resourceType": "Bundle", "type": "searchset", "entry": [')
        self._trickle_body(handler)

    def _trickle_body(self, handler: BaseHTTPRequestHandler) -> None:
        deadline = time.monotonic() + TRICKLE_GIVES_UP_AFTER_SECONDS
        while time.monotonic() < deadline and not self._stopping.wait(TRICKLE_INTERVAL_SECONDS):
            self._send(handler, b" ")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: the connection's end is the end of an answer of no declared length.
            protocol_version = "HTTP/1.0"

            def setup(self) -> None:
                self.request.setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDBUF, SERVER_SEND_BUFFER_BYTES
                )
                super().setup()

            def do_GET(self) -> None:
                server.answer(self)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def _hung_up(connection: socket.socket) -> bool:
    # The service sends nothing after its request: a readable socket is one it has closed (on
    # loopback, its close arrives before any request it sends afterwards).
    if connection.fileno() < 0:
        return True
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _well_answer(path: str) -> dict[str, Any]:
    if "/Patient/" in path:
        return {"resourceType": "Patient", "id": PATIENT_ID, "gender": "female"}
    return {"resourceType": "Bundle", "type": "searchset", "total": 0}


@pytest.fixture(scope="module")
def fhir_servers() -> Iterator[dict[Behaviour, MisbehavingFhirServer]]:
    """One FHIR server per behaviour, each used by one test; listening before the service
    starts, so that the service's trusted issuers can list them."""
    servers = {behaviour: MisbehavingFhirServer(behaviour).start() for behaviour in Behaviour}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def service(
    start_server: Callable[..., CdssServer],
    fhir_servers: dict[Behaviour, MisbehavingFhirServer],
) -> CdssServer:
    server: CdssServer = start_server(
        "sqlite",
        fhir_servers=[server.base_url for server in fhir_servers.values()],
        # One worker: every call shares the fetch threads, as the calls on one worker do.
        server={"workers": 1},
        fhir={
            "fetch_budget_seconds": BUDGET_SECONDS,
            "max_response_bytes": MAX_RESPONSE_BYTES,
            "max_call_bytes": MAX_CALL_BYTES,
            "max_concurrent_fetches": FETCH_THREADS,
            "max_concurrent_fetches_per_server": FETCHES_PER_SERVER,
        },
    )
    return server


@pytest.fixture
def misbehaving(
    fhir_servers: dict[Behaviour, MisbehavingFhirServer],
) -> Callable[[Behaviour], MisbehavingFhirServer]:
    """The module's FHIR server that behaves this way."""
    return fhir_servers.__getitem__


def call_with_fhir_server(
    service: CdssServer,
    mint: Mint,
    fhir_server: MisbehavingFhirServer,
    access_token: str = ACCESS_TOKEN,
    **token: str,
) -> httpx.Response:
    """A hook call naming this FHIR server, by the trusted issuer unless `token` says another."""
    body = hook_call(PATIENT_ID, fhir_server.base_url, access_token)  # nothing prefetched
    path = "/cds-services/diabetes-risk"
    return httpx.post(
        service.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {mint(service, path, **token)}"},
        timeout=CLIENT_TIMEOUT_SECONDS,
    )


def assert_no_patient_data(service: CdssServer, response: httpx.Response) -> None:
    log = service.log_file.read_text()
    for secret in (PATIENT_ID, ACCESS_TOKEN):
        assert secret not in log
        assert secret not in response.text


@pytest.mark.parametrize("behaviour", [Behaviour.DECLARED_TOO_LARGE, Behaviour.ENDLESS])
def test_an_answer_past_the_byte_cap_is_refused_with_412(
    behaviour: Behaviour,
    service: CdssServer,
    mint: Mint,
    misbehaving: Callable[[Behaviour], MisbehavingFhirServer],
) -> None:
    fhir_server = misbehaving(behaviour)

    response = call_with_fhir_server(service, mint, fhir_server)

    assert response.status_code == 412, response.text
    assert locations(response) == REQUIRED_KEYS
    # The caller is told that the server could not be read; the log says why.
    assert "byte cap" not in response.text
    assert "byte cap" in service.log_file.read_text()
    # The service stopped reading at the cap instead of taking what the server would send.
    assert fhir_server.bytes_sent < MAX_CALL_BYTES + SOCKET_BUFFER_SLACK_BYTES
    assert_no_patient_data(service, response)


def test_a_fhir_server_trickling_its_headers_is_hung_up_on_at_the_deadline(
    service: CdssServer,
    mint: Mint,
    misbehaving: Callable[[Behaviour], MisbehavingFhirServer],
) -> None:
    trickling = misbehaving(Behaviour.TRICKLE_HEADERS)

    response = call_with_fhir_server(service, mint, trickling)

    assert response.status_code == 412, response.text
    assert locations(response) == REQUIRED_KEYS
    # The fetch threads let go of the server by the call's deadline instead of reading its
    # headers until it gave up by itself (per-read timeouts never fire on a trickle).
    waited_until = time.monotonic() + TRICKLE_GIVES_UP_AFTER_SECONDS + CLIENT_TIMEOUT_SECONDS
    while trickling.open_connections and time.monotonic() < waited_until:
        time.sleep(0.1)
    assert trickling.hung_up_on >= 1
    assert trickling.answered_to_the_end == 0
    assert_no_patient_data(service, response)


def test_a_trickling_fhir_server_does_not_starve_another_callers_fetches(
    service: CdssServer,
    mint: Mint,
    misbehaving: Callable[[Behaviour], MisbehavingFhirServer],
) -> None:
    trickling = misbehaving(Behaviour.TRICKLE)
    well = misbehaving(Behaviour.WELL)

    with ThreadPoolExecutor(2) as callers:
        stuck = [callers.submit(call_with_fhir_server, service, mint, trickling) for _ in range(2)]
        # Hold the second call until the trickling server has fetch threads stuck on it.
        waited_until = time.monotonic() + CLIENT_TIMEOUT_SECONDS
        while trickling.open_connections < FETCHES_PER_SERVER:
            assert time.monotonic() < waited_until, "the service never fetched from it"
            time.sleep(0.05)
        served = call_with_fhir_server(service, mint, well)
        stuck_answers = [future.result() for future in stuck]

    assert served.status_code == 200, served.text
    for response in stuck_answers:
        assert response.status_code == 412, response.text
        assert locations(response) == REQUIRED_KEYS
        assert_no_patient_data(service, response)
    assert_no_patient_data(service, served)


def test_a_caller_stuck_on_a_fhir_server_does_not_take_another_callers_slots_on_it(
    service: CdssServer,
    mint: Mint,
    misbehaving: Callable[[Behaviour], MisbehavingFhirServer],
) -> None:
    shared = misbehaving(Behaviour.TRICKLE_TO_ONE_CALLER)

    with ThreadPoolExecutor(2) as callers:
        stuck = [callers.submit(call_with_fhir_server, service, mint, shared) for _ in range(2)]
        # Hold the other caller's call until the first caller holds all its slots on the server.
        waited_until = time.monotonic() + CLIENT_TIMEOUT_SECONDS
        while len(shared.trickled_to) < FETCHES_PER_SERVER:
            assert time.monotonic() < waited_until, "the service never fetched from it"
            time.sleep(0.05)
        other_caller = call_with_fhir_server(
            service,
            mint,
            shared,
            access_token="other-callers-token-4242",
            issuer=TENANT_ISSUER,
            tenant=ALLOWED_TENANT,
        )
        stuck_answers = [future.result() for future in stuck]

    assert other_caller.status_code == 200, other_caller.text
    # The other caller was read at once, beside every slot the first caller held on the server,
    # not in a slot the first caller gave up.
    assert shared.held_when_the_other_caller_asked[0] == FETCHES_PER_SERVER
    for response in stuck_answers:
        assert response.status_code == 412, response.text
