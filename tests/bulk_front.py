"""A small FHIR Bulk Data server (IG 2.0.0) on 127.0.0.1, serving NDJSON files it is given.

sekmet serves `$export` for real (tests/fhir_adapters/test_bulk_export.py runs the client
against it), but it cannot be made to answer the way a busy or failing server does. This front
can: 202 with `Retry-After` for the first N status polls, 429 before it, a failed export as an
OperationOutcome, an output URL on another origin, a count the file does not match, an error
file. It counts what the client sent, so tests assert on polls and deletes, never on time.
"""

from __future__ import annotations

import enum
import json
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from support import LoopbackHttpServer

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"


class FrontFault(enum.Enum):
    """A way the Bulk front misbehaves, one per test of the client's fault handling."""

    KICKOFF_REFUSED = "kickoff-refused"  # 400 with an OperationOutcome at kick-off
    EXPORT_FAILED = "export-failed"  # the status URL answers 500 with an OperationOutcome
    TOO_MANY_REQUESTS = "too-many-requests"  # the first status poll answers 429, Retry-After 0
    UNAVAILABLE = "unavailable"  # the first status poll answers 503, transient, no Retry-After
    FOREIGN_OUTPUT = "foreign-output"  # the manifest names a file on another origin
    WRONG_COUNT = "wrong-count"  # the manifest's count is one more than the file holds
    ERROR_FILE = "error-file"  # the manifest lists an error file with an error issue
    FILE_GONE = "file-gone"  # the files answer 404


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> bytes:
    """An OperationOutcome with one issue, as JSON bytes."""
    issue = {"severity": severity, "code": code, "diagnostics": diagnostics}
    return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}).encode()


@dataclass
class BulkFront:
    """A Bulk export server of the given (type, NDJSON file) outputs; start(), then stop()."""

    outputs: Sequence[tuple[str, Path]]
    busy_polls: int = 0
    retry_after: str = "0"
    access_token: str | None = None
    groups: frozenset[str] = frozenset()
    fault: FrontFault | None = None
    kickoffs: list[str] = field(default_factory=list)
    polls: int = 0
    deletes: int = 0
    downloads: int = 0
    authorizations: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._job = secrets.token_hex(4)
        self._http = LoopbackHttpServer(self._handler_class())
        self.port = self._http.port
        self.base_url = f"{self._http.origin}/fhir"

    def start(self) -> BulkFront:
        """Start serving."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._http.stop()

    def manifest(self) -> dict[str, object]:
        """The completion manifest (IG 2.0.0), with this front's fault applied."""
        output = []
        for index, (resource_type, path) in enumerate(self.outputs):
            count = sum(1 for line in path.read_bytes().splitlines() if line.strip())
            if self.fault is FrontFault.WRONG_COUNT:
                count += 1
            url = f"{self.base_url}/files/{self._job}/{index}"
            if self.fault is FrontFault.FOREIGN_OUTPUT and index == 0:
                # Same server, another origin: a client must not send the token there.
                url = f"http://localhost:{self.port}/fhir/files/{self._job}/{index}"
            output.append({"type": resource_type, "url": url, "count": count})
        errors = []
        if self.fault is FrontFault.ERROR_FILE:
            errors.append(
                {
                    "type": "OperationOutcome",
                    "url": f"{self.base_url}/errors/{self._job}",
                    "count": 1,
                }
            )
        return {
            "transactionTime": "2026-11-30T00:00:00Z",
            "request": self.kickoffs[-1] if self.kickoffs else "",
            "requiresAccessToken": self.access_token is not None,
            "output": output,
            "error": errors,
        }

    def respond(
        self, method: str, target: str, authorization: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        """The status, headers and body of the answer to one request."""
        split = urlsplit(target)
        parts = [part for part in split.path.split("/") if part]
        with self._lock:
            self.authorizations.append(authorization)
        if self.access_token is not None and authorization != f"Bearer {self.access_token}":
            return 401, {}, operation_outcome("login", "Authentication required")
        if parts[-1:] == ["$export"] and method == "GET":
            return self._kick_off(parts, split.query, target)
        if parts[1:2] == ["status"] and method == "DELETE":
            with self._lock:
                self.deletes += 1
            return 202, {}, b""
        if parts[1:2] == ["status"]:
            return self._status()
        if parts[1:2] == ["files"] and self.fault is not FrontFault.FILE_GONE:
            with self._lock:
                self.downloads += 1
            _, path = self.outputs[int(parts[3])]
            return 200, {"Content-Type": FHIR_NDJSON}, path.read_bytes()
        if parts[1:2] == ["errors"]:
            body = operation_outcome("processing", "Observation/obs-9 could not be read")
            return 200, {"Content-Type": FHIR_NDJSON}, body + b"\n"
        return 404, {}, operation_outcome("not-found", "No such file")

    def _kick_off(
        self, parts: list[str], query: str, target: str
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.kickoffs.append(f"http://127.0.0.1:{self.port}{target}")
        if self.fault is FrontFault.KICKOFF_REFUSED:
            return 400, {}, operation_outcome("not-supported", "_type Basic is not exported")
        if parts[1:2] == ["Group"] and parts[2] not in self.groups:
            return 404, {}, operation_outcome("not-found", f"Group/{parts[2]} not found")
        if "_outputFormat" in parse_qs(query) and parse_qs(query)["_outputFormat"] != [FHIR_NDJSON]:
            return 400, {}, operation_outcome("not-supported", "only NDJSON")
        return 202, {"Content-Location": f"{self.base_url}/status/{self._job}"}, b""

    def _status(self) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.polls += 1
            poll = self.polls
        if self.fault is FrontFault.TOO_MANY_REQUESTS and poll == 1:
            return 429, {"Retry-After": "0"}, operation_outcome("throttled", "Polling too often")
        if self.fault is FrontFault.UNAVAILABLE and poll == 1:
            return 503, {}, operation_outcome("transient", "Database restarting")
        if self.fault is FrontFault.EXPORT_FAILED:
            return 500, {}, operation_outcome("processing", "An internal timeout has occurred")
        retried = self.fault in (FrontFault.TOO_MANY_REQUESTS, FrontFault.UNAVAILABLE)
        busy = self.busy_polls + (1 if retried else 0)
        if poll <= busy:
            headers = {"Retry-After": self.retry_after, "X-Progress": f"poll {poll} of {busy}"}
            return 202, headers, b""
        return 200, {"Content-Type": FHIR_JSON}, json.dumps(self.manifest()).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                status, headers, body = front.respond(
                    self.command, self.path, self.headers.get("Authorization")
                )
                self.send_response(status)
                headers.setdefault("Content-Type", FHIR_JSON)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer  # noqa: N815 (http.server's naming)
            do_DELETE = _answer  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass  # the tests' output stays readable

        return Handler
