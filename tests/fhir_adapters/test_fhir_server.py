"""The FHIR server boundary: every transport failure and status becomes one of our errors."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from support import free_port

from fhir_adapters.fhir_fetch_errors import check_status, resource_in, translate_transport_errors
from fhir_adapters.fhir_server import (
    FhirAccess,
    FhirAccessDenied,
    FhirFetcher,
    FhirFetchError,
    FhirInvalidResponse,
    FhirNotFound,
    FhirServerFailed,
    FhirTimeout,
    FhirTooLarge,
    FhirUnreachable,
    SearchRequest,
)

HTTPX_ERRORS = sorted(
    (
        cls
        for cls in vars(httpx).values()
        if inspect.isclass(cls) and issubclass(cls, httpx.HTTPError)
    ),
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("error_class", HTTPX_ERRORS, ids=lambda cls: cls.__name__)
def test_every_httpx_error_is_translated(error_class: type[httpx.HTTPError]) -> None:
    request = httpx.Request("GET", "http://fhir.example.test/Patient/1")
    if issubclass(error_class, httpx.HTTPStatusError):
        error = error_class(
            "failed", request=request, response=httpx.Response(500, request=request)
        )
    elif error_class is httpx.HTTPError:
        error = error_class("failed")
    else:
        error = error_class("failed", request=request)

    with pytest.raises(FhirFetchError) as raised, translate_transport_errors():
        raise error

    assert raised.value.__cause__ is error
    if issubclass(error_class, httpx.TimeoutException):
        assert isinstance(raised.value, FhirTimeout)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, b"{}", FhirAccessDenied),
        (403, b"{}", FhirAccessDenied),
        (404, b"{}", FhirNotFound),
        (500, b"{}", FhirServerFailed),
        (302, b"", FhirServerFailed),
        (200, b"<html>", FhirInvalidResponse),
        (200, b'["not", "a", "resource"]', FhirInvalidResponse),
        (200, b'{"id": "no type"}', FhirInvalidResponse),
    ],
)
def test_statuses_and_bodies_map_to_errors(
    status: int, body: bytes, error: type[FhirFetchError]
) -> None:
    with pytest.raises(error):
        _answer_of(status, body)


def _answer_of(status: int, body: bytes) -> dict[str, object]:
    # The fetcher's order: the status first, the body only when it is 200.
    check_status(status)
    return resource_in(body)


def test_a_resource_is_returned() -> None:
    assert resource_in(b'{"resourceType": "Patient", "id": "p"}') == {
        "resourceType": "Patient",
        "id": "p",
    }


def test_unreachable_server_is_reported_per_key() -> None:
    access = FhirAccess(f"http://127.0.0.1:{free_port()}/fhir", "token-value")
    with httpx.Client() as client, ThreadPoolExecutor(2) as pool:
        fetcher = FhirFetcher(client, pool)
        results = fetcher.search_all(
            access,
            {
                "a": SearchRequest("Patient/1", "Patient"),
                "b": SearchRequest("Condition?patient=1", "Bundle"),
            },
            time.monotonic() + 2,
        )

    assert set(results) == {"a", "b"}
    assert all(isinstance(result.error, FhirUnreachable) for result in results.values())
    assert all(result.resources == () for result in results.values())


def test_the_token_stays_out_of_repr() -> None:
    assert "token-value" not in repr(FhirAccess("http://fhir.example.test", "token-value"))


def _endless_bundle() -> Iterator[bytes]:
    yield b'{"resourceType": "Bundle", "entry": ['
    while True:
        yield b" " * 4096


@pytest.mark.parametrize(
    ("max_response_bytes", "max_call_bytes"), [(16 * 1024, 1024 * 1024), (1024 * 1024, 16 * 1024)]
)
def test_an_endless_answer_is_cut_off_at_the_byte_cap(
    max_response_bytes: int, max_call_bytes: int
) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, stream=_EndlessStream()))
    access = FhirAccess("http://fhir.example.test/fhir", "token-value")
    with httpx.Client(transport=transport) as client, ThreadPoolExecutor(2) as pool:
        fetcher = FhirFetcher(
            client, pool, max_response_bytes=max_response_bytes, max_call_bytes=max_call_bytes
        )
        results = fetcher.search_all(
            access, {"a": SearchRequest("Condition?patient=1", "Bundle")}, time.monotonic() + 30
        )

    assert isinstance(results["a"].error, FhirTooLarge)


class _EndlessStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        return _endless_bundle()
