"""CDS Hooks 2.0 request bodies, parsed into typed records or refused with the fields at fault.

Error messages name the field and the rule, never the value sent: bodies carry patient data.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from cds_service.errors import InvalidRequest, Problem

# Required context fields of each hook (CDS Hooks Library).
HOOK_REQUIRED_CONTEXT: Mapping[str, tuple[str, ...]] = {
    "patient-view": ("userId", "patientId"),
    "order-select": ("userId", "patientId", "selections", "draftOrders"),
    "order-sign": ("userId", "patientId", "draftOrders"),
    "appointment-book": ("userId", "patientId", "appointments"),
    "encounter-start": ("userId", "patientId", "encounterId"),
    "encounter-discharge": ("userId", "patientId", "encounterId"),
    "order-dispatch": ("patientId", "dispatchedOrders", "performer"),
    "medication-refill": ("patientId", "medications"),
}
# Context fields that name a FHIR resource id; they end up in FHIR query URLs.
FHIR_ID_CONTEXT_FIELDS = ("patientId", "encounterId")
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
FHIR_REFERENCE = re.compile(r"[A-Za-z]+/([A-Za-z0-9\-.]{1,64})")
# The FHIR id grammar allows them, but in a URL path they are dot segments: "Patient/.." reads
# the server's base, not a patient.
DOT_SEGMENTS = frozenset({".", ".."})
# How much of a repeated member name a 400 quotes: names are the sender's, not patient data.
MAX_NAME_SHOWN = 64


def is_fhir_id(value: object) -> bool:
    """Whether `value` is a FHIR resource id that stays inside its URL path segment."""
    return isinstance(value, str) and bool(FHIR_ID.fullmatch(value)) and value not in DOT_SEGMENTS


def is_fhir_reference(value: object) -> bool:
    """Whether `value` is a relative reference (`Practitioner/123`) whose id is a FHIR id."""
    match = FHIR_REFERENCE.fullmatch(value) if isinstance(value, str) else None
    return match is not None and is_fhir_id(match.group(1))


def _storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL characters, nor UTF-8 an unpaired surrogate ("\ud800" is
    # valid JSON, but no character): refusing them here keeps them a 400.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must not contain unpaired UTF-16 surrogates") from None
    return value


NonEmptyText = Annotated[
    str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_storable_text)
]
Model = TypeVar("Model", bound=BaseModel)


def _bearer(value: Any) -> Any:
    # "Bearer" is fixed by the spec, but token types are case-insensitive (RFC 6750).
    return "Bearer" if isinstance(value, str) and value.lower() == "bearer" else value


class _Body(BaseModel):
    # Unknown members (extensions, newer spec versions) are accepted and ignored.
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class FhirAuthorization(_Body):
    """The OAuth 2.0 access the EHR grants for its FHIR server."""

    access_token: NonEmptyText
    token_type: Annotated[Literal["Bearer"], BeforeValidator(_bearer)]
    expires_in: int = Field(ge=0)
    scope: NonEmptyText
    subject: NonEmptyText
    patient: NonEmptyText | None = None

    @field_validator("patient")
    @classmethod
    def _fhir_id(cls, value: str | None) -> str | None:
        if value is not None and not is_fhir_id(value):
            raise ValueError("must be a FHIR resource id")
        return value


class HookRequest(_Body):
    """A call of a CDS service by an EHR."""

    hook: NonEmptyText
    hook_instance: str = Field(alias="hookInstance")
    fhir_server: str | None = Field(default=None, alias="fhirServer")
    fhir_authorization: FhirAuthorization | None = Field(default=None, alias="fhirAuthorization")
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @field_validator("hook_instance")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValueError("must be a UUID") from None
        return value

    @field_validator("fhir_server")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be the absolute http(s) base URL of a FHIR server")
        # The HTTP client would send them as Basic credentials instead of the bearer token.
        if value is not None and "@" in value.split("/", 3)[2]:
            raise ValueError("must not hold credentials (user:password@)")
        return value

    @model_validator(mode="after")
    def _server_with_authorization(self) -> HookRequest:
        if self.fhir_authorization is not None and self.fhir_server is None:
            raise ValueError("fhirServer is required when fhirAuthorization is sent")
        return self

    @property
    def patient_id(self) -> str | None:
        """The patient in context, when the hook has one."""
        value = self.context.get("patientId")
        return value if isinstance(value, str) else None


class AcceptedSuggestion(_Body):
    """A suggestion the clinician accepted."""

    id: NonEmptyText


class FeedbackOverrideReason(_Body):
    """Why the clinician did not follow a card."""

    reason: dict[str, Any] | None = None
    user_comment: (
        Annotated[str, StringConstraints(max_length=4096), AfterValidator(_storable_text)] | None
    ) = Field(default=None, alias="userComment")

    @field_validator("reason")
    @classmethod
    def _coding(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        if not isinstance(value.get("code"), str) or not value["code"]:
            raise ValueError("must be a Coding with a code")
        for member in ("system", "display"):
            if member in value and not isinstance(value[member], str):
                raise ValueError(f"{member} must be a string")
        for text in _strings_within(value):
            _storable_text(text)
        return value


class FeedbackEntry(_Body):
    """What a clinician did with one card."""

    card: Annotated[
        str, StringConstraints(min_length=1, max_length=128), AfterValidator(_storable_text)
    ]
    outcome: Literal["accepted", "overridden"]
    accepted_suggestions: list[AcceptedSuggestion] | None = Field(
        default=None, alias="acceptedSuggestions"
    )
    override_reason: FeedbackOverrideReason | None = Field(default=None, alias="overrideReason")
    outcome_timestamp: str = Field(alias="outcomeTimestamp")

    @field_validator("outcome_timestamp")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        parse_timestamp(value)
        return value

    @model_validator(mode="after")
    def _outcome_consistent(self) -> FeedbackEntry:
        if self.outcome == "accepted" and not self.accepted_suggestions:
            raise ValueError("acceptedSuggestions is required when the outcome is accepted")
        if self.outcome == "accepted" and self.override_reason is not None:
            raise ValueError("overrideReason belongs to an overridden card")
        if self.outcome == "overridden" and self.accepted_suggestions:
            raise ValueError("acceptedSuggestions belongs to an accepted card")
        return self

    @property
    def timestamp(self) -> datetime:
        """The outcome time, timezone-aware."""
        return parse_timestamp(self.outcome_timestamp)


class FeedbackRequest(_Body):
    """A batch of feedback entries for one service."""

    feedback: list[FeedbackEntry] = Field(min_length=1, max_length=1000)


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 date-time with a time zone."""
    if not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value
    ):
        raise ValueError("must be an RFC 3339 date-time with a time zone")
    try:
        moment = datetime.fromisoformat(value.upper())
        # Stored in UTC: 0001-01-01T00:00:00+14:00 is a valid string but no UTC moment.
        moment.astimezone(UTC)
    except ValueError:
        raise ValueError("must be a valid date-time") from None
    except OverflowError:
        raise ValueError("must be a date-time between the years 1 and 9999 in UTC") from None
    return moment


def _strings_within(value: Any) -> Iterator[str]:
    # Every string of a JSON value, keys included, for the checks stored text must pass.
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, member in value.items():
            yield key
            yield from _strings_within(member)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_within(item)


class _NotStrictJson(ValueError):
    """JSON that Python's parser reads but RFC 8259 (or I-JSON, RFC 7493) does not allow."""


def _refuse_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 leaves the meaning of a repeated name open: parsers keep the first or the last,
    # so a second `context` could name another patient than the one a proxy or log saw.
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                shown = name if len(name) <= MAX_NAME_SHOWN else name[:MAX_NAME_SHOWN] + "..."
                raise _NotStrictJson(f"member '{shown}' appears twice in one object")
            seen.add(name)
    return document


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; PostgreSQL's json type refuses them (a DataError, once).
    raise _NotStrictJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        # I-JSON (RFC 7493): numbers beyond a double's range are not interoperable.
        raise _NotStrictJson("a number is beyond the range of a double")
    return number


def parse_json_body(raw: bytes) -> Any:
    """The body as JSON, or `InvalidRequest`; a repeated member name, NaN or Infinity included."""
    if not raw.strip():
        raise InvalidRequest("empty body", [Problem("body", "a JSON object is required")])
    try:
        return json.loads(
            raw,
            object_pairs_hook=_refuse_duplicate_members,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except _NotStrictJson as exc:
        raise InvalidRequest("malformed JSON", [Problem("body", str(exc))]) from None
    except (ValueError, RecursionError):
        raise InvalidRequest(
            "malformed JSON", [Problem("body", "not valid JSON (UTF-8)")]
        ) from None


def parse_body(model: type[Model], document: Any) -> Model:
    """Validate a JSON document against a request model, naming every field at fault."""
    if not isinstance(document, dict):
        raise InvalidRequest("body is not an object", [Problem("body", "must be a JSON object")])
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = [
            Problem(_location(error["loc"]), _message(error["msg"]))
            for error in exc.errors(include_input=False, include_url=False, include_context=False)
        ]
        raise InvalidRequest("the request breaks the CDS Hooks specification", problems) from None


def check_hook_context(request: HookRequest, expected_hook: str) -> None:
    """The hook is the service's, and its required context fields are there and well formed."""
    if request.hook != expected_hook:
        raise InvalidRequest(
            "wrong hook", [Problem("hook", f"this service answers '{expected_hook}'")]
        )
    problems = []
    for name in HOOK_REQUIRED_CONTEXT.get(expected_hook, ()):
        value = request.context.get(name)
        if value is None or value == "" or value == [] or value == {}:
            problems.append(Problem(f"context.{name}", "required by the hook"))
    for name in FHIR_ID_CONTEXT_FIELDS:
        value = request.context.get(name)
        if value is not None and not is_fhir_id(value):
            problems.append(Problem(f"context.{name}", "must be a FHIR resource id"))
    user = request.context.get("userId")
    if user is not None and not is_fhir_reference(user):
        problems.append(Problem("context.userId", "must be a reference such as Practitioner/123"))
    if problems:
        raise InvalidRequest("invalid hook context", problems)


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + part)
    return "".join(parts) or "body"


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")
