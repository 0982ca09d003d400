"""One deadline for a whole HTTP exchange with a FHIR server: connecting, sending, the status
line and headers, the body.

httpx's timeouts bound each socket operation, not the exchange: a server that sends one byte of
its headers every 0.3 s never trips a read timeout, and would hold a fetch thread until it gives
up by itself. The body is read against the call's deadline chunk by chunk
(`fhir_fetch_errors.read_body`), but the headers are read inside httpcore, before any answer is
handed back. So every socket operation of a fetch thread is bounded here instead: the thread
names its call's deadline (`exchange_deadline`), and the network streams of the FHIR client
(`deadline_transport`) give each read, write and connect at most the time left, failing with
httpx's own timeout errors once none is.

Requests made outside `exchange_deadline` (the JWT key sets, the SMART app's discovery) keep
their ordinary per-operation timeouts.
"""

from __future__ import annotations

import ssl
import threading
import time
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx

# httpx's documented default connection limits.
MAX_CONNECTIONS = 100
MAX_KEEPALIVE_CONNECTIONS = 20
KEEPALIVE_EXPIRY_SECONDS = 5.0

_current = threading.local()


@contextmanager
def exchange_deadline(deadline: float) -> Iterator[None]:
    """Bound every socket operation of this thread's requests by `deadline` (`time.monotonic()`)."""
    previous: float | None = getattr(_current, "deadline", None)
    _current.deadline = deadline
    try:
        yield
    finally:
        _current.deadline = previous


def _time_left(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    """The operation's timeout, shortened to this thread's deadline; `expired` once it passed."""
    deadline: float | None = getattr(_current, "deadline", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the call's deadline passed during the exchange")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        secured = self._stream.start_tls(
            ssl_context, server_hostname, _time_left(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(secured)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host,
            port,
            _time_left(timeout, httpcore.ConnectTimeout),
            local_address,
            socket_options,
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _time_left(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport with the network streams above, for the FHIR client."""

    def __init__(self) -> None:
        super().__init__()
        # httpx takes no network backend of its own, so its connection pool is made again
        # around one, with httpx's defaults (TLS verified, its connection limits). httpx and
        # httpcore are pinned in constraints.txt; tests/fhir_adapters/test_exchange_deadline.py
        # fails if this stops taking effect.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
            network_backend=_DeadlineBackend(),
        )
