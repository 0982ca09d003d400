"""Authenticating the caller of a request, for the views that require a CDS Hooks JWT.

A verified token is spent once, whatever the call's outcome: a hook call that answers spends
it with its cards (`HookRunner`), in one transaction; every other ending spends it alone
(`spend_token`), so a token whose call failed cannot be sent again with another body.
"""

from __future__ import annotations

from flask import request

from cds_service.auth.cds_jwt import UNVERIFIED_CALLER, VerifiedCaller, replay_refused
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


def spend_token(caller: VerifiedCaller) -> None:
    """Spend the caller's token alone; `AuthenticationFailed` when it had been used before."""
    if caller.token is not None and not current_components().replay_store.spend(caller.token):
        raise replay_refused(caller.token.jti)
