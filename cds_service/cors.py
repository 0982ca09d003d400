"""Cross-origin access for browser-based CDS clients such as the public CDS Hooks sandbox."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response, request

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Content-Type, Authorization"
PREFLIGHT_MAX_AGE_SECONDS = "600"
CORS_PATH_PREFIX = "/cds-services"


def init_app(app: Flask, allowed_origins: Sequence[str]) -> None:
    """Answer allowed origins on the CDS Hooks routes, preflights included."""
    allow_any = "*" in allowed_origins
    allowed = frozenset(allowed_origins)

    def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if not origin or not request.path.startswith(CORS_PATH_PREFIX):
            return response
        response.vary.add("Origin")
        if not (allow_any or origin in allowed):
            return response
        response.headers["Access-Control-Allow-Origin"] = "*" if allow_any else origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE_SECONDS
        return response

    app.after_request(add_cors_headers)
