"""`POST /cds-services/{id}`: a hook call, answered with cards."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, request

from cds_service.errors import UnknownService
from cds_service.protocol import HookRequest, check_hook_context, parse_body, parse_json_body
from cds_service.web.context import current_components
from cds_service.web.guard import authenticate_cds_client

blueprint = Blueprint("hooks", __name__)
log = logging.getLogger(__name__)


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> dict[str, Any]:
    """Run the service for this hook call."""
    caller = authenticate_cds_client()
    components = current_components()
    service = components.catalog.get(service_id)
    if service is None:
        raise UnknownService("no such service")
    hook_request = parse_body(HookRequest, parse_json_body(request.get_data()))
    check_hook_context(hook_request, service.hook)
    config = components.live_config.current()
    if not config.enabled(service.id):
        # Switched off by an administrator: an EHR that cached discovery still gets an answer.
        log.info("service %s is switched off: answered no cards", service.id)
        return {"cards": []}
    cards = components.hook_runner.run(service, hook_request, caller, config)
    components.metrics.cards(service.id, cards)
    log.info("service %s answered %d card(s)", service.id, len(cards))
    return {"cards": [card.to_json() for card in cards]}
