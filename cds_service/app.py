"""The application factory: the only place blueprints and error handlers are registered."""

from __future__ import annotations

import logging

import httpx
from flask import Flask

from cds_service.components import SharedModels, build_components
from cds_service.settings import Settings
from cds_service.web import (
    admin_api,
    admin_page,
    cors,
    discovery,
    feedback,
    health,
    hooks,
    model_cards,
    openapi,
)
from cds_service.web import smart as smart_views
from cds_service.web.context import EXTENSION_KEY
from cds_service.web.error_responses import render_error
from cds_service.web.forwarded import TrustedProxies
from cds_service.web.request_metrics import time_requests

# The HTTP client logs every request's URL at INFO, and a FHIR search URL names the patient
# (`Observation?patient=...`): its records stay out of the service's log.
HTTP_CLIENT_LOGGERS = ("httpx", "httpcore")


def quieten_http_client_logs() -> None:
    """Keep the HTTP client's request lines (URLs with patient ids) out of the log."""
    for name in HTTP_CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _warnings_and_above(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def quieten_root_logger() -> None:
    """Below WARNING, drop what libraries log through the root logger itself.

    The service logs through named loggers only; a record made on the root logger comes from
    a library calling `logging.info(...)` (PyFastNER, under PyRuSH, wrote one per sentence:
    ~97,000 lines a sandbox session). A root logger's filter sees only the records made on
    it, not those its named children pass up, so the service's own lines are untouched.
    """
    root = logging.getLogger()
    if _warnings_and_above not in root.filters:
        root.addFilter(_warnings_and_above)


def create_app(
    settings: Settings,
    *,
    http_client: httpx.Client | None = None,
    shared: SharedModels | None = None,
) -> Flask:
    """A Flask app serving the CDS services with these settings (and models loaded before)."""
    logging.basicConfig(
        level=settings.logging.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quieten_http_client_logs()
    quieten_root_logger()
    # No static files: the pages carry their styles inline, so there is no `/static` route.
    app = Flask("cds_service", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.server.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    components = build_components(settings, http_client, shared)
    app.extensions[EXTENSION_KEY] = components

    app.register_blueprint(discovery.blueprint)
    app.register_blueprint(hooks.blueprint)
    app.register_blueprint(feedback.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(model_cards.blueprint)
    app.register_blueprint(admin_api.blueprint)
    app.register_blueprint(admin_page.blueprint)
    app.register_blueprint(smart_views.blueprint)
    app.register_blueprint(openapi.blueprint)
    openapi.publish(
        app,
        settings.server.public_base_url,
        [service.id for service in components.catalog.all()],
    )
    cors.init_app(app, settings.server.cors_allowed_origins)
    time_requests(app, components.metrics, [service.id for service in components.catalog.all()])
    app.register_error_handler(Exception, render_error)
    # Outermost, so every reader of the client's address (the admin throttle, the audit log,
    # the logs) and of the scheme sees what the trusted proxies say, and no one else.
    app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
        app.wsgi_app, settings.server.trusted_proxies
    )
    return app
