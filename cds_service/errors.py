"""The service's exceptions, each with the HTTP status it is answered with.

    CdssError (500)
    ├── InvalidRequest (400)        the body or a field is wrong; names the field, never its value
    ├── SmartLaunchRefused (400)    a SMART launch that does not fit (issuer, state, EHR answer)
    ├── AuthenticationFailed (401)  answered with a bare 401; the reason goes to the log only
    ├── UnknownService (404)
    ├── UnknownDocument (404)       a model card or plot that is not served
    ├── ConfigConflict (409)        another configuration change was accepted meanwhile
    ├── PreconditionFailed (412)    `If-Match` names a configuration version no longer in force
    ├── PrefetchUnavailable (412)   data the service needs was neither prefetched nor fetchable
    ├── RequestTooLarge (413)
    └── TooManyAttempts (429)       too many refused admin attempts of late, from one address or all

They are rendered in one place, `cds_service.web.error_responses.render_error` (registered by
the app factory): JSON, an OperationOutcome for every status except 401, never a stack trace,
never request data (request bodies carry patient data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where (a dotted path) and what."""

    location: str
    message: str
    # The OperationOutcome issue type of this problem, where it is not the error's own (a 412
    # whose key ran out of the fetch budget says `timeout` for that key only).
    issue_code: str | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class CdssError(Exception):
    """Root of the service's exceptions; unexpected ones are answered 500."""

    status: ClassVar[int] = 500
    issue_code: ClassVar[str] = "exception"

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)


class InvalidRequest(CdssError):
    """The request is malformed or breaks the CDS Hooks specification."""

    status = 400
    issue_code = "invalid"


class SmartLaunchRefused(CdssError):
    """A launch of the detail app that cannot go on; the message says why, quoting nothing."""

    status = 400
    issue_code = "security"


class AuthenticationFailed(CdssError):
    """The caller's JWT is missing or does not verify; `message` is for the log only."""

    status = 401
    issue_code = "security"


class UnknownService(CdssError):
    """No CDS service has the requested id."""

    status = 404
    issue_code = "not-found"


class UnknownDocument(CdssError):
    """No such document (model card or plot) is served."""

    status = 404
    issue_code = "not-found"


class ConfigConflict(CdssError):
    """Another configuration change was accepted at the same moment; read and try again."""

    status = 409
    issue_code = "conflict"


class PreconditionFailed(CdssError):
    """The change was based on a configuration version that is no longer in force."""

    status = 412
    issue_code = "conflict"


class TooManyAttempts(CdssError):
    """Refused outright: too many refused admin attempts of late, from this address or from all
    addresses together. A valid admin token is never refused for them."""

    status = 429
    issue_code = "throttled"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class RequestTooLarge(CdssError):
    """The body is larger than the configured limit."""

    status = 413
    issue_code = "too-costly"


class PrefetchUnavailable(CdssError):
    """Data the service requires was neither prefetched nor obtainable from the FHIR server."""

    status = 412
    issue_code = "not-found"


def operation_outcome(
    code: str, problems: Sequence[Problem], severity: str = "error"
) -> dict[str, Any]:
    """A FHIR R4 OperationOutcome with one issue per problem, of type `code` unless the problem
    names its own."""
    issues: list[dict[str, Any]] = []
    for problem in problems:
        issue: dict[str, Any] = {
            "severity": severity,
            "code": problem.issue_code or code,
            "diagnostics": str(problem),
        }
        if problem.location:
            issue["expression"] = [problem.location]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}
