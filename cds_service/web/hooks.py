"""`POST /cds-services/{id}`: a hook call, answered with cards."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from flask import Blueprint, request

from cards.cds_card import Card
from cds_service.auth.cds_jwt import VerifiedCaller
from cds_service.errors import AuthenticationFailed, UnknownService
from cds_service.protocol import HookRequest, check_hook_context, parse_body, parse_json_body
from cds_service.web.context import current_components
from cds_service.web.guard import authenticate_cds_client, spend_token

blueprint = Blueprint("hooks", __name__)
log = logging.getLogger(__name__)


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> dict[str, Any]:
    """Run the service for this hook call."""
    caller = authenticate_cds_client()
    try:
        cards = _answer(service_id, caller)
    except Exception:
        # The token is spent however the call ends, so that one whose call failed cannot be
        # sent again with another body; refused as a replay here, it is refused all the same.
        with suppress(AuthenticationFailed):
            spend_token(caller)
        raise
    return {"cards": [card.to_json() for card in cards]}


def _answer(service_id: str, caller: VerifiedCaller) -> Sequence[Card]:
    components = current_components()
    service = components.catalog.get(service_id)
    if service is None:
        raise UnknownService("no such service")
    hook_request = parse_body(HookRequest, parse_json_body(request.get_data()))
    check_hook_context(hook_request, service.hook)
    config = components.live_config.current()
    if not config.enabled(service.id):
        # Switched off by an administrator: an EHR that cached discovery still gets an answer.
        spend_token(caller)
        log.info("service %s is switched off: answered no cards", service.id)
        return []
    # The runner spends the token with the cards it records, in one transaction.
    cards = components.hook_runner.run(service, hook_request, caller, config)
    components.metrics.cards(service.id, cards)
    log.info("service %s answered %d card(s)", service.id, len(cards))
    return cards
