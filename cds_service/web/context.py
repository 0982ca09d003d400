"""The running app's components, as the views reach them."""

from __future__ import annotations

from flask import current_app

from cds_service.components import Components

# Where the app factory keeps the components in `app.extensions`.
EXTENSION_KEY = "cdss"


def current_components() -> Components:
    """The running app's components (call inside a request)."""
    found: Components = current_app.extensions[EXTENSION_KEY]
    return found
