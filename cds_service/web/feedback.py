"""`POST /cds-services/{id}/feedback`: what clinicians did with the cards, stored durably."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, request

from cds_service.errors import InvalidRequest, Problem, UnknownService
from cds_service.protocol import FeedbackEntry, FeedbackRequest, parse_body, parse_json_body
from cds_service.storage.stores import FeedbackRecord
from cds_service.web.context import current_components
from cds_service.web.guard import authenticate_cds_client, spend_token

blueprint = Blueprint("feedback", __name__)
log = logging.getLogger(__name__)

# A feedback batch is small: an honest one holds a few entries of a Coding and a comment
# (`userComment` is bounded by the protocol model). The service-wide request limit is sized for
# hook calls with prefetched charts; feedback gets its own, so that a caller cannot write tens
# of megabytes per post into the database and hold its write lock while hook calls wait.
FEEDBACK_MAX_BODY_BYTES = 1024 * 1024
# An override reason is one Coding (system, code, display); measured as the JSON stored, so
# that extensions or unknown members count too.
OVERRIDE_REASON_MAX_CHARS = 2048
NOT_ISSUED = "no card of this service was issued to this caller"


@blueprint.post("/cds-services/<service_id>/feedback")
def receive_feedback(service_id: str) -> dict[str, Any]:
    """Store every entry (an entry sent twice is stored once), or refuse the batch whole."""
    caller = authenticate_cds_client()
    # Spent before anything is read or stored: feedback is rare, and a token raced by its
    # replay must not have stored the replay's entries.
    spend_token(caller)
    components = current_components()
    if components.catalog.get(service_id) is None:
        raise UnknownService("no such service")
    request.max_content_length = min(
        FEEDBACK_MAX_BODY_BYTES, components.settings.server.max_request_bytes
    )
    body = parse_body(FeedbackRequest, parse_json_body(request.get_data()))
    _check_sizes(body.feedback)
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
    receipt = components.feedback_store.store(service_id, caller.issuer, records)
    if receipt.not_issued:
        # Refused whole, so an EHR never has to work out which half of a batch went in. The
        # message names the entries, never the card ids or anything else the body held.
        log.info("feedback for %s refused: %d entries", service_id, len(receipt.not_issued))
        raise InvalidRequest(
            "feedback for cards not issued to this caller",
            [Problem(f"feedback[{index}].card", NOT_ISSUED) for index in receipt.not_issued],
        )
    components.metrics.feedback(service_id, (record.outcome for record in records))
    log.info(
        "feedback for %s: %d stored, %d duplicate", service_id, receipt.stored, receipt.duplicates
    )
    # `unknownCards` stays in the receipt for EHRs that read it; feedback on cards not issued
    # to the caller is refused now, so it is always 0.
    return {"stored": receipt.stored, "duplicates": receipt.duplicates, "unknownCards": 0}


def _check_sizes(entries: list[FeedbackEntry]) -> None:
    """`InvalidRequest` naming every override reason longer than `OVERRIDE_REASON_MAX_CHARS`."""
    problems = [
        Problem(
            f"feedback[{index}].overrideReason.reason",
            f"must be at most {OVERRIDE_REASON_MAX_CHARS} characters as JSON",
        )
        for index, entry in enumerate(entries)
        if entry.override_reason is not None
        and entry.override_reason.reason is not None
        and len(json.dumps(entry.override_reason.reason)) > OVERRIDE_REASON_MAX_CHARS
    ]
    if problems:
        raise InvalidRequest("feedback too large", problems)
