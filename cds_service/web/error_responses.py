"""Every error a request raises, answered in one place: JSON, an OperationOutcome, no leak.

The exceptions and their statuses are drawn in `cds_service.errors`; this module turns them
(and Werkzeug's own HTTP errors) into responses, never with a stack trace or request data.
"""

from __future__ import annotations

import logging
import traceback

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from cds_service.errors import (
    AuthenticationFailed,
    CdssError,
    Problem,
    RequestTooLarge,
    TooManyAttempts,
    operation_outcome,
)

log = logging.getLogger(__name__)


def render_error(error: Exception) -> tuple[Response, int] | Response:
    """Answer any exception raised while handling a request, without leaking its content."""
    if isinstance(error, AuthenticationFailed):
        log.warning("refused a caller: %s", error.message)
        response = Response(status=401)
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    if isinstance(error, CdssError) and error.status < 500:
        problems = error.problems or (Problem("", error.message),)
        log.info("answered %d: %s", error.status, error.message)
        response = jsonify(operation_outcome(error.issue_code, problems))
        if isinstance(error, TooManyAttempts):
            response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response, error.status
    if isinstance(error, HTTPException) and error.code is not None and error.code < 500:
        if error.code == RequestTooLarge.status:
            return render_error(RequestTooLarge("the request body is larger than allowed"))
        problem = Problem("", error.name)
        return jsonify(operation_outcome("processing", [problem])), error.code
    _log_unexpected(error)
    problem = Problem("", "internal error")
    return jsonify(operation_outcome("exception", [problem], severity="fatal")), 500


def _log_unexpected(error: Exception) -> None:
    # The exception's message may quote request data, so only its type and frames are logged.
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error("unexpected %s while handling a request\n%s", type(error).__name__, frames)
