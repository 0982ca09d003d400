"""Cross-origin access for browser-based CDS clients such as the public CDS Hooks sandbox."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response, request

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Content-Type, Authorization"
PREFLIGHT_MAX_AGE_SECONDS = "600"
CORS_PATH_PREFIX = "/cds-services"
ADMIN_PATH = "/admin"


def init_app(app: Flask, allowed_origins: Sequence[str]) -> None:
    """Answer allowed origins on the CDS Hooks routes, preflights included; never on /admin."""
    allow_any = "*" in allowed_origins
    allowed = frozenset(allowed_origins)

    def refuse_admin_preflight() -> Response | None:
        # The admin endpoints are used from their own page or from scripts, never from another
        # origin's page: a preflight is refused outright, whatever `cors_allowed_origins` says.
        is_admin = request.path == ADMIN_PATH or request.path.startswith(ADMIN_PATH + "/")
        if request.method == "OPTIONS" and is_admin and "Origin" in request.headers:
            return Response(status=403)
        return None

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

    app.before_request(refuse_admin_preflight)
    app.after_request(add_cors_headers)
