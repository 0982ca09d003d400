"""Authenticating the caller of a request, for the views that require a CDS Hooks JWT."""

from __future__ import annotations

from flask import request

from cds_service.auth.cds_jwt import UNVERIFIED_CALLER, VerifiedCaller
from cds_service.errors import AuthenticationFailed
from cds_service.web.context import current_components


def authenticate_cds_client() -> VerifiedCaller:
    """The verified caller of this request, or `AuthenticationFailed`."""
    components = current_components()
    if components.verifier is None:
        return UNVERIFIED_CALLER
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("no bearer token")
    # The audience is the exact URL the EHR called, as it knows it: the public base URL (the
    # service may sit behind a proxy) followed by the path.
    audience = components.settings.server.public_base_url + request.path
    return components.verifier.verify(token.strip(), audience)
