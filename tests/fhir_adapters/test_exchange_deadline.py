"""The FHIR client's deadline bounds the whole exchange, headers included, on a real socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from fhir_adapters.exchange_deadline import DeadlineTransport, exchange_deadline

TRICKLE_INTERVAL_SECONDS = 0.2
# The server stops trickling after this long; the client must have given up well before.
SERVER_GIVES_UP_AFTER_SECONDS = 30.0
DEADLINE_SECONDS = 0.5
# Generous per-operation timeout: on a trickle, it never fires.
PER_READ_TIMEOUT_SECONDS = 5.0
WELL_ANSWER = b"HTTP/1.0 200 OK\r\nContent-Type: application/fhir+json\r\n\r\n{}"


class HeaderTrickler:
    """A server on 127.0.0.1 answering each connection with a status line, then one header byte
    at a time (or, when `well`, a whole answer at once)."""

    def __init__(self, well: bool = False) -> None:
        self.well = well
        self.ended_by_client = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopping = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/fhir/Patient/p1"

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()

    def _serve(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            if self.well:
                connection.sendall(WELL_ANSWER)
                return
            connection.sendall(b"HTTP/1.0 200 OK\r\nX-Slow: ")
            gives_up_at = time.monotonic() + SERVER_GIVES_UP_AFTER_SECONDS
            while time.monotonic() < gives_up_at and not self._stopping.wait(
                TRICKLE_INTERVAL_SECONDS
            ):
                try:
                    connection.sendall(b"a")
                except OSError:
                    self.ended_by_client.set()
                    return


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(transport=DeadlineTransport()) as client:
        yield client


def test_a_trickle_of_headers_ends_at_the_exchange_deadline(client: httpx.Client) -> None:
    server = HeaderTrickler()
    try:
        with (
            exchange_deadline(time.monotonic() + DEADLINE_SECONDS),
            pytest.raises(httpx.ReadTimeout),
        ):
            client.get(server.url, timeout=PER_READ_TIMEOUT_SECONDS)
        # The connection was closed, not left to the server to end.
        assert server.ended_by_client.wait(SERVER_GIVES_UP_AFTER_SECONDS)
    finally:
        server.stop()


def test_a_deadline_already_passed_sends_nothing(client: httpx.Client) -> None:
    server = HeaderTrickler(well=True)
    try:
        with exchange_deadline(time.monotonic() - 1), pytest.raises(httpx.TimeoutException):
            client.get(server.url, timeout=PER_READ_TIMEOUT_SECONDS)
    finally:
        server.stop()


def test_requests_outside_a_deadline_keep_their_own_timeouts(client: httpx.Client) -> None:
    server = HeaderTrickler(well=True)
    try:
        response = client.get(server.url, timeout=PER_READ_TIMEOUT_SECONDS)
    finally:
        server.stop()

    assert response.status_code == 200
    assert response.json() == {}


def test_the_deadline_is_the_threads_own(client: httpx.Client) -> None:
    # A deadline set by one fetch thread does not bound a request made by another thread.
    server = HeaderTrickler(well=True)
    answers: list[int] = []
    try:
        with exchange_deadline(time.monotonic() - 1):
            other = threading.Thread(
                target=lambda: answers.append(
                    client.get(server.url, timeout=PER_READ_TIMEOUT_SECONDS).status_code
                )
            )
            other.start()
            other.join()
    finally:
        server.stop()

    assert answers == [200]
