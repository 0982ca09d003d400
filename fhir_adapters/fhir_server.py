"""Reading the EHR's FHIR server with the token the EHR handed over, within one time budget.

The errors, and the reading of one answer against the deadline and byte caps, are in
`fhir_adapters.fhir_fetch_errors` (re-exported here). The access token is sent to the FHIR
server and nowhere else (a `next` link or attachment URL on another host is refused, not
followed): it is never stored and never logged. Each FHIR server has only so many fetch
threads at once, so the calls of one slow server do not starve the calls naming another.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import httpx

from fhir_adapters.exchange_deadline import exchange_deadline
from fhir_adapters.fhir_fetch_errors import (
    FHIR_SERVER_UNREADABLE,
    CallAllowance,
    FhirAccessDenied,
    FhirFetchError,
    FhirForeignUrl,
    FhirInvalidResponse,
    FhirNotFound,
    FhirServerFailed,
    FhirTimeout,
    FhirTooLarge,
    FhirUnreachable,
    check_status,
    read_body,
    resource_in,
    translate_transport_errors,
)
from fhir_adapters.fhir_query import with_encoded_query

__all__ = [
    "FHIR_SERVER_UNREADABLE",
    "CallAllowance",
    "FhirAccess",
    "FhirAccessDenied",
    "FhirFetchError",
    "FhirFetcher",
    "FhirForeignUrl",
    "FhirInvalidResponse",
    "FhirNotFound",
    "FhirServerFailed",
    "FhirTimeout",
    "FhirTooLarge",
    "FhirUnreachable",
    "SearchRequest",
    "SearchResult",
    "bundle_resources",
    "next_page",
    "normalised_base_url",
    "url_on_server",
]

_Result = TypeVar("_Result")

FHIR_JSON = "application/fhir+json"
_ABSOLUTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DOT_SEGMENTS = frozenset({".", ".."})


@dataclass(frozen=True)
class FhirAccess:
    """What a hook request grants: the server, a bearer token, and the patient it is limited to."""

    base_url: str
    access_token: str
    patient: str | None = None
    # Who asked (the verified issuer, "" when JWT checks are off): each caller has its own
    # fetch slots on a server, so one caller's slow calls cannot starve another's.
    caller: str = ""

    def __repr__(self) -> str:
        # Keeps the token out of tracebacks and debug output.
        return f"FhirAccess(base_url={self.base_url!r}, access_token='***', patient=...)"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalised_base_url(url: str) -> str:
    """A FHIR base URL as compared against a list of allowed ones: scheme and host in lower
    case, the scheme's default port left out, no trailing slash; the path kept as written
    (paths are case-sensitive). `ValueError` for a URL that names no host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError("not an absolute http(s) URL")
    port = parts.port  # ValueError for a port that is not a number in range
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of a Bundle's entries, bar search outcomes; ValueError names a bad one."""
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise ValueError("entry is not a list")
    resources = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise ValueError(f"entry[{index}] holds no FHIR resource")
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue  # the server's warnings about the search, not the patient's data
        resources.append(resource)
    return resources


def next_page(bundle: Mapping[str, Any]) -> str | None:
    """The URL of a searchset's next page, if it has one."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else ():
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


@dataclass(frozen=True)
class SearchRequest:
    """One read or search: a relative query or an absolute URL on the server."""

    url: str
    expected_type: str
    # Follow `next` links to the end (within the page cap), or take the first page only.
    all_pages: bool = True


@dataclass(frozen=True)
class SearchResult:
    """What one request gave: its resources, and the error that stopped it early, if any."""

    resources: tuple[dict[str, Any], ...]
    pages: int
    error: FhirFetchError | None = None
    # Pages were left unread because the page cap was reached.
    truncated: bool = False


# Told of every request: its duration in seconds and `FETCH_OK` or the error's `reason`.
FetchObserver = Callable[[float, str], None]
FETCH_OK = "ok"

# The defaults of `[fhir]` in the service's settings, for a fetcher built without them.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_CALL_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_FETCHES_PER_SERVER = 4


class FhirFetcher:
    """Runs reads and searches at once, all answered (or failed) by the deadline each call gives."""

    def __init__(
        self,
        client: httpx.Client,
        executor: ThreadPoolExecutor,
        max_pages: int = 10,
        observe: FetchObserver | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_call_bytes: int = DEFAULT_MAX_CALL_BYTES,
        max_fetches_per_server: int = DEFAULT_MAX_FETCHES_PER_SERVER,
    ) -> None:
        self._client = client
        self._executor = executor
        self._max_pages = max_pages
        self._observe = observe
        self._max_response_bytes = max_response_bytes
        self._max_call_bytes = max_call_bytes
        self._max_fetches_per_server = max_fetches_per_server
        self._server_slots: dict[tuple[str, str], threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()

    def call_allowance(self) -> CallAllowance:
        """A fresh byte allowance for one hook call, shared by all its requests."""
        return CallAllowance(self._max_call_bytes)

    def search_all(
        self,
        access: FhirAccess,
        requests: Mapping[str, SearchRequest],
        deadline: float,
        allowance: CallAllowance | None = None,
    ) -> dict[str, SearchResult]:
        """Each request's result, with partial pages kept when a later page fails."""
        allowance = allowance or self.call_allowance()
        collected: dict[str, list[dict[str, Any]]] = {key: [] for key in requests}
        futures = {
            key: self._submit(
                access, deadline, self._search, access, request, deadline, allowance, collected[key]
            )
            for key, request in requests.items()
        }
        wait(
            [f for f in futures.values() if f is not None],
            timeout=max(0.0, deadline - time.monotonic()),
        )
        results: dict[str, SearchResult] = {}
        for key, future in futures.items():
            if future is None or not future.done():
                if future is not None:
                    future.cancel()
                pages = list(collected[key])  # what arrived before the deadline
                results[key] = SearchResult(
                    tuple(r for page in pages for r in _page_resources(page)),
                    len(pages),
                    FhirTimeout("the FHIR server did not answer within the budget"),
                )
                continue
            error = future.exception()
            if error is not None and not isinstance(error, FhirFetchError):
                raise error
            pages = collected[key]
            results[key] = SearchResult(
                tuple(resource for page in pages for resource in _page_resources(page)),
                len(pages),
                error,
                truncated=error is None and future.result(),
            )
        return results

    def _search(
        self,
        access: FhirAccess,
        request: SearchRequest,
        deadline: float,
        allowance: CallAllowance,
        pages: list[dict[str, Any]],
    ) -> bool:
        """Read pages into `pages`; True when the page cap left some unread."""
        url: str | None = request.url
        while url is not None:
            if len(pages) >= self._max_pages:
                return True
            page = self._get(access, url, deadline, allowance)
            if page.get("resourceType") != request.expected_type:
                raise FhirInvalidResponse(
                    f"the FHIR server answered with a {page.get('resourceType')}, "
                    f"not a {request.expected_type}"
                )
            if request.expected_type == "Bundle":
                try:
                    bundle_resources(page)
                except ValueError as exc:
                    raise FhirInvalidResponse(f"the server's Bundle is invalid: {exc}") from None
            pages.append(page)
            is_search = request.expected_type == "Bundle"
            url = next_page(page) if request.all_pages and is_search else None
        return False

    def read_all(
        self,
        access: FhirAccess,
        urls: Iterable[str],
        deadline: float,
        allowance: CallAllowance | None = None,
    ) -> dict[str, dict[str, Any] | FhirFetchError]:
        """Each URL's resource (e.g. a Binary an attachment points to), or why it was not read."""
        allowance = allowance or self.call_allowance()
        futures = {
            url: self._submit(access, deadline, self._get, access, url, deadline, allowance)
            for url in urls
        }
        wait(
            [f for f in futures.values() if f is not None],
            timeout=max(0.0, deadline - time.monotonic()),
        )
        results: dict[str, dict[str, Any] | FhirFetchError] = {}
        for url, future in futures.items():
            if future is None or not future.done():
                if future is not None:
                    future.cancel()
                results[url] = FhirTimeout("the FHIR server did not answer within the budget")
                continue
            error = future.exception()
            if error is None:
                results[url] = future.result()
            elif isinstance(error, FhirFetchError):
                results[url] = error
            else:
                raise error
        return results

    def _submit(
        self,
        access: FhirAccess,
        deadline: float,
        task: Callable[..., _Result],
        *args: Any,
    ) -> Future[_Result] | None:
        """The task running on a fetch thread once its server has a free slot; None when no slot
        came free by the deadline. The slot is given back when the task ends or is cancelled."""
        slots = self._slots_of(access.base_url, access.caller)
        if not slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return None
        try:
            future = self._executor.submit(task, *args)
        except BaseException:
            slots.release()
            raise
        future.add_done_callback(lambda _: slots.release())
        return future

    def _slots_of(self, base_url: str, caller: str) -> threading.BoundedSemaphore:
        # One FHIR server (scheme, host and port) shares its slots across every call one caller
        # makes naming it; another caller naming the same server has slots of its own.
        parts = urlsplit(base_url)
        server = (caller, f"{parts.scheme}://{parts.netloc}".lower())
        with self._slots_lock:
            slots = self._server_slots.get(server)
            if slots is None:
                slots = threading.BoundedSemaphore(self._max_fetches_per_server)
                self._server_slots[server] = slots
            return slots

    def _get(
        self, access: FhirAccess, url: str, deadline: float, allowance: CallAllowance
    ) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FhirTimeout("the time budget ran out before the request was sent")
        headers = {
            "Accept": FHIR_JSON,
            "Authorization": f"Bearer {access.access_token}",
            # An error rather than a silently ignored parameter, e.g. `patient` on a server that
            # does not support it, which would answer with every patient's resources.
            "Prefer": "handling=strict",
        }
        started = time.monotonic()
        try:
            with (
                exchange_deadline(deadline),
                translate_transport_errors(),
                self._client.stream(
                    "GET",
                    url_on_server(access.base_url, url),
                    headers=headers,
                    timeout=remaining,
                ) as response,
            ):
                # An error's body is not read: its status says all the service uses.
                check_status(response.status_code)
                body = read_body(response, deadline, self._max_response_bytes, allowance)
            resource = resource_in(body)
        except FhirFetchError as exc:
            if self._observe is not None:
                self._observe(time.monotonic() - started, exc.reason)
            raise
        if self._observe is not None:
            self._observe(time.monotonic() - started, FETCH_OK)
        return resource


def _page_resources(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    if page.get("resourceType") == "Bundle":
        return bundle_resources(page)
    return [dict(page)]


def url_on_server(base_url: str, url: str) -> str:
    """The absolute URL a query or link is sent to, its query percent-encoded (see
    `fhir_adapters.fhir_query`: a proxy may rewrite `//` in it); `FhirForeignUrl` for a URL off
    the server (or one whose path climbs out of the base with a `.` or `..` segment)."""
    base = base_url.rstrip("/")
    # A query's parameters may hold URLs ("code=http://loinc.org|4548-4"): only a scheme at
    # the very start makes a URL absolute.
    if not _ABSOLUTE_URL.match(url):
        absolute = f"{base}/{url.lstrip('/')}"
    elif url.startswith(f"{base}/") or url.startswith(f"{base}?"):
        absolute = url
    else:
        raise FhirForeignUrl("a link points outside the FHIR server; the token is not sent there")
    # The HTTP client resolves dot segments ("Patient/.." reads the base itself), also when
    # percent-encoded ("%2e%2e").
    path = urlsplit(absolute).path
    if any(unquote(segment) in _DOT_SEGMENTS for segment in path.split("/")):
        raise FhirForeignUrl("a path leaves the resource it names; it is not requested")
    return with_encoded_query(absolute)
