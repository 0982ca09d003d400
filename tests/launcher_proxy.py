"""A FHIR front on 127.0.0.1 that forwards requests the way the SMART launcher's proxy does.

smart-launcher-v2 (github.com/smart-on-fhir/smart-launcher-v2 at 64374254, mirrored under
/work/.mirror) puts every FHIR request of a launched app through `backend/routes/fhir/proxy.ts`
(mounted for every path but `metadata` and `.well-known` by `backend/routes/fhir/index.ts`
line 14). In the points that matter to a client, this front does the same:

- proxy.ts line 52, `new URL(fhirServer + req.url).href.replace(/\\/\\s*\\//g, "/")`: every `//`
  of the whole URL, the query included, becomes `/`, so an unencoded
  `code=http://loinc.org|4548-4` reaches the FHIR server as `http:/loinc.org|4548-4` and matches
  nothing. The scheme's own `//` collapses too; fetch's URL parser reads `http:/host` as
  `http://host` (WHATWG, special schemes), so the front puts it back.
- proxy.ts lines 32-38: every request header is forwarded but `host`, `authorization`,
  `connection` and `x-*` (so `Prefer: handling=strict` arrives); lines 40-49: outside
  `/Binary/`, `accept` becomes `application/fhir+json` (R4) and a missing `content-type`
  becomes `application/json`.
- proxy.ts lines 55-66: the status and the `content-type`, `etag` and `location` headers are
  copied back, and outside `/Binary/` every occurrence of the FHIR server's base URL in the body
  becomes the launcher's own, so `next` links lead back through the front.
- proxy.ts line 14 with `validateToken` (backend/lib.ts lines 77-103): a request may come
  without a token; one that brings a token must bring one the launcher issued. The caller's
  token never goes on: the launcher's FHIR servers are open. sekmet asks for a bearer token, so
  the front sends sekmet's own (`upstream_token`), never the caller's.

The base URL has the launcher's shape (`/v/r4/fhir`): a FHIR base with a path.
`requests_seen` holds each forwarded request's path and query as the FHIR server got them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
from support import LoopbackHttpServer

FHIR_JSON = "application/fhir+json"
# The launcher's path for an R4 FHIR base (`/v/:fhir_release/fhir`, without a `sim`).
LAUNCHER_FHIR_PATH = "/v/r4/fhir"
# proxy.ts line 52: `/\/\s*\//g` (JavaScript's `\s`, like Python's on str, is Unicode-wide).
_DOUBLE_SLASH = re.compile(r"/\s*/")
_SCHEME_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/+")
# proxy.ts line 32 and the `x-` test of line 35. `content-length` is left to the HTTP client,
# which sets it from the body it sends, as fetch does.
_HEADERS_NOT_FORWARDED = frozenset({"host", "authorization", "connection", "content-length"})
_HEADERS_COPIED_BACK = ("content-type", "etag", "location")


def launcher_url(upstream_base_url: str, request_target: str) -> str:
    """The URL the launcher fetches for a request target under its FHIR base (proxy.ts line 52):
    `//` collapsed everywhere, the scheme's slashes then restored as fetch reads them."""
    collapsed = _DOUBLE_SLASH.sub("/", upstream_base_url + request_target)
    return _SCHEME_SLASHES.sub(r"\1://", collapsed, count=1)


def _outcome(code: str, diagnostics: str) -> bytes:
    issue = {"severity": "error", "code": code, "diagnostics": diagnostics}
    return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}).encode()


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]


class LauncherProxy:
    """The launcher's FHIR proxy in front of `upstream_base_url`; a context manager, or
    `start()` then `stop()`."""

    def __init__(
        self,
        upstream_base_url: str,
        *,
        upstream_token: str | None = None,
        access_token: str | None = None,
    ) -> None:
        self.upstream_base_url = upstream_base_url.rstrip("/")
        self.upstream_token = upstream_token
        self.access_token = access_token
        self.requests_seen: list[str] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=60)
        self._http = LoopbackHttpServer(self._handler_class())
        self.base_url = f"{self._http.origin}{LAUNCHER_FHIR_PATH}"

    def start(self) -> LauncherProxy:
        """Start serving."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the upstream connections."""
        self._http.stop()
        self._client.close()

    def __enter__(self) -> LauncherProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def forwarded_queries(self) -> list[str]:
        """The query of each forwarded request that had one, in order."""
        with self._lock:
            return [seen.split("?", 1)[1] for seen in self.requests_seen if "?" in seen]

    def respond(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """The launcher's answer to one request (everything but the HTTP plumbing)."""
        path = urlsplit(target).path
        if path != LAUNCHER_FHIR_PATH and not path.startswith(f"{LAUNCHER_FHIR_PATH}/"):
            return _Reply(404, _outcome("not-found", "not under the launcher's FHIR base"), {})
        lowered = {name.lower(): value for name, value in headers.items()}
        issued = None if self.access_token is None else f"Bearer {self.access_token}"
        if issued is not None and lowered.get("authorization", issued) != issued:
            return _Reply(401, _outcome("login", "Invalid token"), {})
        request_url = target[len(LAUNCHER_FHIR_PATH) :]  # Express's `req.url` under the mount
        is_binary = request_url.startswith("/Binary/")
        forwarded = {
            name: value
            for name, value in lowered.items()
            if name not in _HEADERS_NOT_FORWARDED and not name.startswith("x-")
        }
        if not is_binary:
            forwarded.setdefault("content-type", "application/json")
            forwarded["accept"] = FHIR_JSON
        if self.upstream_token is not None:
            forwarded["authorization"] = f"Bearer {self.upstream_token}"
        url = launcher_url(self.upstream_base_url, request_url)
        split = urlsplit(url)
        with self._lock:
            self.requests_seen.append(split.path + (f"?{split.query}" if split.query else ""))
        try:
            response = self._client.request(method, url, headers=forwarded, content=body or None)
        except (httpx.HTTPError, RuntimeError) as error:
            # RuntimeError: stop() closed the client while this request was on its way.
            return _Reply(500, _outcome("exception", f"proxy failed: {type(error).__name__}"), {})
        content = response.content
        if not is_binary:
            content = content.replace(self.upstream_base_url.encode(), self.base_url.encode())
        returned = response.headers
        copied = {name: returned[name] for name in _HEADERS_COPIED_BACK if name in returned}
        return _Reply(response.status_code, content, copied)

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
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

            def log_message(self, *_: Any) -> None:
                pass

        return Handler
