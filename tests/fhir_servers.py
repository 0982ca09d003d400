"""Real FHIR servers for the tests: sekmet (a FHIR R4 server) and a fault-injecting proxy."""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from support import LoopbackHttpServer

from demo_ehr.fhir_server import FHIR_JSON, SekmetServer


class Fault(enum.Enum):
    """A way the FHIR server in front of the real one misbehaves."""

    SLOW = "slow"
    SERVER_ERROR = "server-error"
    INVALID_JSON = "invalid-json"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not-found"


def operation_outcome(code: str, diagnostics: str) -> bytes:
    """An OperationOutcome with one error issue, as JSON bytes."""
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }
    return json.dumps(outcome).encode()


# Status and body of each fault that answers at once (SLOW proxies after its delay instead).
FAULT_RESPONSES: dict[Fault, tuple[int, bytes]] = {
    Fault.SERVER_ERROR: (500, operation_outcome("exception", "Injected server error")),
    Fault.INVALID_JSON: (200, b'{"resourceType": "Bundle", "entry": ['),
    Fault.UNAUTHORIZED: (401, operation_outcome("login", "Injected: not authorised")),
    Fault.NOT_FOUND: (404, operation_outcome("not-found", "Injected: not found")),
}


def later_page(query: str) -> bool:
    """Whether a search query asks for a page after the first (sekmet pages with `_offset`)."""
    offsets = parse_qs(query).get("_offset", [])
    # `self` and `first` links carry _offset=0: that is still the first page.
    return any(not offset.isdigit() or int(offset) > 0 for offset in offsets)


@dataclass(frozen=True)
class Reply:
    """One HTTP answer of the faulty server."""

    status: int
    body: bytes
    content_type: str = FHIR_JSON


class FaultyFhirServer:
    """An HTTP server on 127.0.0.1 proxying to a real FHIR server, injecting faults on demand."""

    def __init__(self, upstream: SekmetServer, slow_seconds: float = 5.0) -> None:
        self.upstream = upstream
        self.slow_seconds = slow_seconds
        self.faults: dict[str, Fault] = {}
        self.fail_after_first_page: set[str] = set()
        self.requests: list[str] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        self._http = LoopbackHttpServer(self._handler_class())
        self.base_url = f"{self._http.origin}/fhir"

    def start(self) -> FaultyFhirServer:
        """Start serving."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Release any slow requests, stop serving and close the upstream connections."""
        self._stopping.set()
        self._http.stop()
        self._client.close()

    def fault_for(self, resource_type: str) -> Fault | None:
        """The fault a request for this resource type gets, if any."""
        return self.faults.get(resource_type, self.faults.get("*"))

    def respond(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """What to answer to one request (the whole decision, apart from the HTTP plumbing)."""
        with self._lock:
            self.requests.append(target)
        split = urlsplit(target)
        segments = [part for part in split.path.split("/") if part]
        resource_type = segments[1] if len(segments) > 1 and segments[0] == "fhir" else ""
        fault = self.fault_for(resource_type)
        if fault is not None and fault is not Fault.SLOW:
            status, payload = FAULT_RESPONSES[fault]
            return Reply(status, payload)
        if resource_type in self.fail_after_first_page and later_page(split.query):
            return Reply(500, operation_outcome("exception", "Injected: page two failed"))
        if fault is Fault.SLOW and self._stopping.wait(self.slow_seconds):
            return Reply(503, operation_outcome("transient", "Injected: server stopping"))
        return self._proxy(method, target, headers, body)

    def _proxy(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        upstream_root = self.upstream.base_url.removesuffix("/fhir")
        forwarded = {
            name: value
            for name, value in headers.items()
            if name.lower() in {"authorization", "accept", "content-type", "prefer"}
        }
        try:
            response = self._client.request(
                method, upstream_root + target, headers=forwarded, content=body or None
            )
        except (httpx.HTTPError, RuntimeError) as error:
            # RuntimeError: stop() closed the client while this request was on its way.
            return Reply(502, operation_outcome("transient", f"Upstream failed: {error}"))
        # Absolute URLs (next links, fullUrls) must lead back through this server.
        content = response.content.replace(self.upstream.base_url.encode(), self.base_url.encode())
        content_type = response.headers.get("content-type", FHIR_JSON)
        return Reply(response.status_code, content, content_type)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        # HTTP/1.0 (the default): one request per connection, so no handler outlives stop().
        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = proxy.respond(self.command, self.path, dict(self.headers.items()), body)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (a timeout test does exactly that).
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def resolve_prefetch_as_an_ehr(
    server: SekmetServer, templates: Mapping[str, str], patient_id: str
) -> dict[str, Any]:
    """Each template's value the way an EHR fills prefetch: the first page of each query.

    Written apart from the service's own template code, as an EHR's would be. A query the server
    refuses is sent as the OperationOutcome it gave, which CDS Hooks 2.0 allows.
    """
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        query = template.replace("{{context.patientId}}", patient_id)
        response = httpx.get(
            f"{server.base_url}/{query}",
            headers={**server.headers, "Prefer": "handling=strict"},
            timeout=60,
        )
        prefetch[key] = response.json()
    return prefetch


def every_page(server: SekmetServer, query: str) -> list[dict[str, Any]]:
    """Every resource a search gives, following `next` links to the end."""
    resources: list[dict[str, Any]] = []
    page: dict[str, Any] | None = server.get(query)
    while page is not None:
        resources.extend(entry["resource"] for entry in page.get("entry", []))
        following = [link["url"] for link in page.get("link", []) if link["relation"] == "next"]
        page = server.get_url(following[0]) if following else None
    return resources
