"""Reading the EHR's FHIR server with the token the EHR handed over, within one time budget.

    FhirFetchError
    ├── FhirUnreachable        connection refused, DNS failure, TLS failure
    ├── FhirTimeout            no answer within the budget
    ├── FhirAccessDenied       401 or 403: the token is expired, revoked or lacks a scope
    ├── FhirNotFound           404
    ├── FhirServerFailed       5xx, or any other status the service cannot use
    └── FhirInvalidResponse    the body is not a FHIR resource in JSON

httpx's exceptions become these at exactly one place, `_translate_transport_errors`; callers
never see an httpx type. The access token is sent to the FHIR server and nowhere else: it is
never stored and never logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

FHIR_JSON = "application/fhir+json"


class FhirFetchError(Exception):
    """The FHIR server could not give the data; the message never holds the token."""


class FhirUnreachable(FhirFetchError):
    """The FHIR server could not be reached."""


class FhirTimeout(FhirFetchError):
    """The FHIR server did not answer within the time budget."""


class FhirAccessDenied(FhirFetchError):
    """The FHIR server refused the token (401 or 403)."""


class FhirNotFound(FhirFetchError):
    """The FHIR server has no such resource (404)."""


class FhirServerFailed(FhirFetchError):
    """The FHIR server answered with an error the service cannot use."""


class FhirInvalidResponse(FhirFetchError):
    """The FHIR server's answer is not a FHIR resource in JSON."""


@dataclass(frozen=True)
class FhirAccess:
    """What a hook request grants: the server, a bearer token, and the patient it is limited to."""

    base_url: str
    access_token: str
    patient: str | None = None

    def __repr__(self) -> str:
        # Keeps the token out of tracebacks and debug output.
        return f"FhirAccess(base_url={self.base_url!r}, access_token='***', patient=...)"


@contextmanager
def _translate_transport_errors() -> Iterator[None]:
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


def _resource_from(response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if status in (401, 403):
        raise FhirAccessDenied(f"the FHIR server refused the token ({status})")
    if status == 404:
        raise FhirNotFound("the FHIR server has no such resource (404)")
    if status != 200:
        raise FhirServerFailed(f"the FHIR server answered {status}")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise FhirInvalidResponse("the FHIR server's answer is not JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FhirInvalidResponse("the FHIR server's answer is not a FHIR resource")
    return body


class FhirFetcher:
    """Runs several FHIR queries at once, all answered (or failed) within one time budget."""

    def __init__(
        self, client: httpx.Client, executor: ThreadPoolExecutor, budget_seconds: float
    ) -> None:
        self._client = client
        self._executor = executor
        self._budget = budget_seconds

    def fetch_all(
        self, access: FhirAccess, queries: Mapping[str, str]
    ) -> dict[str, dict[str, Any] | FhirFetchError]:
        """Each key's resource, or the error that kept the service from getting it."""
        deadline = time.monotonic() + self._budget
        futures: dict[str, Future[dict[str, Any]]] = {
            key: self._executor.submit(self._fetch_one, access, query, deadline)
            for key, query in queries.items()
        }
        wait(futures.values(), timeout=self._budget)
        results: dict[str, dict[str, Any] | FhirFetchError] = {}
        for key, future in futures.items():
            if not future.done():
                future.cancel()
                results[key] = FhirTimeout("the FHIR server did not answer within the budget")
                continue
            error = future.exception()
            if error is None:
                results[key] = future.result()
            elif isinstance(error, FhirFetchError):
                results[key] = error
            else:
                raise error
        return results

    def _fetch_one(self, access: FhirAccess, query: str, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FhirTimeout("the time budget ran out before the request was sent")
        url = f"{access.base_url.rstrip('/')}/{query.lstrip('/')}"
        headers = {"Accept": FHIR_JSON, "Authorization": f"Bearer {access.access_token}"}
        with _translate_transport_errors():
            response = self._client.get(url, headers=headers, timeout=remaining)
        return _resource_from(response)
