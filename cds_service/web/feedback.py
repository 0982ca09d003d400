"""`POST /cds-services/{id}/feedback`: what clinicians did with the cards, stored durably."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, request

from cds_service.errors import UnknownService
from cds_service.protocol import FeedbackRequest, parse_body, parse_json_body
from cds_service.storage.stores import FeedbackRecord
from cds_service.web.context import current_components
from cds_service.web.guard import authenticate_cds_client

blueprint = Blueprint("feedback", __name__)
log = logging.getLogger(__name__)


@blueprint.post("/cds-services/<service_id>/feedback")
def receive_feedback(service_id: str) -> dict[str, Any]:
    """Store every entry; an entry sent twice is stored once."""
    authenticate_cds_client()
    components = current_components()
    if components.catalog.get(service_id) is None:
        raise UnknownService("no such service")
    body = parse_body(FeedbackRequest, parse_json_body(request.get_data()))
    records = [
        FeedbackRecord(
            card_uuid=entry.card,
            outcome=entry.outcome,
            outcome_timestamp=entry.timestamp,
            accepted_suggestions=tuple(s.id for s in entry.accepted_suggestions or ()),
            override_reason=entry.override_reason.reason if entry.override_reason else None,
            override_comment=entry.override_reason.user_comment if entry.override_reason else None,
        )
        for entry in body.feedback
    ]
    receipt = components.feedback_store.store(service_id, records)
    components.metrics.feedback(service_id, (record.outcome for record in records))
    log.info(
        "feedback for %s: %d stored, %d duplicate, %d for unknown cards",
        service_id,
        receipt.stored,
        receipt.duplicates,
        receipt.unknown_cards,
    )
    return {
        "stored": receipt.stored,
        "duplicates": receipt.duplicates,
        "unknownCards": receipt.unknown_cards,
    }
