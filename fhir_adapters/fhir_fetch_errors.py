"""What can go wrong reading the FHIR server, and reading one answer within the caps.

    FhirFetchError
    ├── FhirUnreachable        connection refused, DNS failure, TLS failure
    ├── FhirTimeout            no answer within the budget
    ├── FhirTooLarge           an answer, or all of a call's answers, past the byte cap
    ├── FhirAccessDenied       401 or 403: the token is expired, revoked or lacks a scope
    ├── FhirNotFound           404
    ├── FhirServerFailed       5xx, or any other status the service cannot use
    ├── FhirInvalidResponse    the body is not the FHIR resource asked for, in JSON
    └── FhirForeignUrl         a link (`next`, attachment) points off the FHIR server

httpx's exceptions become these at exactly one place, `translate_transport_errors`; callers
never see an httpx type. Their messages are for the service's log: the EHR calling the service
is told only `FHIR_SERVER_UNREADABLE`, whatever the fault, so its answers cannot map what
listens at an address (refused connection, garbage, 401, redirect all read the same). One
exception: a required key whose query ran out of the time budget is named as such, with its
template (`cds_service.hook_runner`): the answer's own delay says as much already, and only a
server the caller's issuer lists is ever contacted (docs/fhir-budget.md).
Every answer is read as a stream against the call's deadline and byte caps (`read_body`), so a
server that trickles or never ends its body holds a fetch thread no longer than the budget and
no more memory than the cap.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import httpx

# What a caller of the service is told of any fault of the FHIR server but running out of the
# budget, and of a `fhirServer` its issuer may not name (never contacted): one sentence, so no
# answer says what is there.
FHIR_SERVER_UNREADABLE = "the FHIR server could not be read"


class FhirFetchError(Exception):
    """The FHIR server could not give the data; the message never holds the token."""

    # A short name for metrics and logs.
    reason: ClassVar[str] = "failed"


class FhirUnreachable(FhirFetchError):
    """The FHIR server could not be reached."""

    reason: ClassVar[str] = "unreachable"


class FhirTimeout(FhirFetchError):
    """The FHIR server did not answer within the time budget."""

    reason: ClassVar[str] = "timeout"


class FhirTooLarge(FhirFetchError):
    """The FHIR server's answer, or all the answers of one call, went past the byte cap."""

    reason: ClassVar[str] = "too-large"


class FhirAccessDenied(FhirFetchError):
    """The FHIR server refused the token (401 or 403)."""

    reason: ClassVar[str] = "access-denied"


class FhirNotFound(FhirFetchError):
    """The FHIR server has no such resource (404)."""

    reason: ClassVar[str] = "not-found"


class FhirServerFailed(FhirFetchError):
    """The FHIR server answered with an error the service cannot use."""

    reason: ClassVar[str] = "server-failed"


class FhirInvalidResponse(FhirFetchError):
    """The FHIR server's answer is not the FHIR resource asked for, in JSON."""

    reason: ClassVar[str] = "invalid-response"


class FhirForeignUrl(FhirFetchError):
    """A link points somewhere other than the FHIR server the request named."""

    reason: ClassVar[str] = "foreign-url"


@contextmanager
def translate_transport_errors() -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise FhirTimeout("the FHIR server did not answer in time") from exc
    except httpx.TransportError as exc:
        raise FhirUnreachable(
            f"the FHIR server could not be reached ({type(exc).__name__})"
        ) from exc
    except httpx.HTTPError as exc:
        raise FhirServerFailed(
            f"the request to the FHIR server failed ({type(exc).__name__})"
        ) from exc


def check_status(status: int) -> None:
    if status in (401, 403):
        raise FhirAccessDenied(f"the FHIR server refused the token ({status})")
    if status == 404:
        raise FhirNotFound("the FHIR server has no such resource (404)")
    if status != 200:
        raise FhirServerFailed(f"the FHIR server answered {status}")


def resource_in(body: bytes) -> dict[str, Any]:
    try:
        resource = json.loads(body)
    except ValueError as exc:
        raise FhirInvalidResponse("the FHIR server's answer is not JSON") from exc
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirInvalidResponse("the FHIR server's answer is not a FHIR resource")
    return resource


class CallAllowance:
    """The bytes one hook call may still read from the FHIR server, over all its requests."""

    def __init__(self, max_bytes: int) -> None:
        self._remaining = max_bytes
        self._lock = threading.Lock()

    def take(self, count: int) -> None:
        """Count `count` bytes read; `FhirTooLarge` once the call has read more than it may."""
        with self._lock:
            self._remaining -= count
            if self._remaining < 0:
                raise FhirTooLarge("the FHIR server's answers to this call passed the byte cap")


def read_body(
    response: httpx.Response, deadline: float, max_bytes: int, allowance: CallAllowance
) -> bytes:
    """The body, read chunk by chunk so neither a trickle nor an endless stream outlasts the
    deadline or the caps (httpx's timeout bounds each read, not the whole answer)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FhirTooLarge("the FHIR server's answer is larger than the byte cap")
    chunks: list[bytes] = []
    size = 0
    # Decoded bytes are counted, so a compressed answer cannot expand past the cap.
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FhirTooLarge("the FHIR server's answer is larger than the byte cap")
        allowance.take(len(chunk))
        chunks.append(chunk)
        if time.monotonic() >= deadline:
            raise FhirTimeout("the FHIR server did not finish its answer within the budget")
    return b"".join(chunks)
