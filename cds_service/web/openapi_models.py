"""The bodies the service answers with (and the admin API's envelopes), as pydantic models that
the OpenAPI document (`cds_service.web.openapi`) draws its schemas from.

The request bodies a view validates are drawn from the models that validate them
(`protocol.HookRequest`, `protocol.FeedbackRequest`, `managed_config.ManagedConfig`) and the
cards from `cards.cds_card.Card`. The views build the answers below as plain dictionaries; these
models say what those dictionaries hold, and the schema fuzz run (tests/cds_service/
test_schema_fuzz.py) checks every answer it gets against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cards.cds_card import Card
from cds_service.managed_config import ManagedConfig


class _Documented(BaseModel):
    # The JSON members are camelCase, as CDS Hooks and the admin API spell them.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class OperationOutcomeIssue(_Documented):
    """One problem: where (a FHIRPath-like location) and what, never the value sent."""

    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    diagnostics: str
    expression: list[str] | None = None


class OperationOutcome(_Documented):
    """Every error body but the 401's (which has none): a FHIR R4 OperationOutcome."""

    resource_type: Literal["OperationOutcome"]
    issue: list[OperationOutcomeIssue] = Field(min_length=1)


class CdsServiceEntry(_Documented):
    """One service as discovery lists it."""

    hook: str
    id: str
    title: str
    description: str
    prefetch: dict[str, str]


class Discovery(_Documented):
    """`GET /cds-services`: the services switched on."""

    services: list[CdsServiceEntry]


class CdsHooksResponse(_Documented):
    """A hook call's answer: the cards (none when there is nothing to say)."""

    cards: list[Card]


class FeedbackReceipt(_Documented):
    """How many feedback entries were stored, and how many had been stored before."""

    stored: int
    duplicates: int
    # Kept for EHRs that read it; feedback on cards not issued to the caller is refused (400).
    unknown_cards: Literal[0]


class Liveness(_Documented):
    """`GET /healthz`."""

    status: Literal["ok"]


class Readiness(_Documented):
    """`GET /readyz`: the database answers; which model artifacts this worker serves."""

    status: Literal["ready", "not-ready"]
    database: Literal["ok", "unreachable"]
    models: dict[str, str]
    worker: int


class ConfigReplacement(_Documented):
    """`PUT /admin/config`: every field of the managed configuration."""

    config: ManagedConfig
    comment: str | None = None


class ConfigPatch(_Documented):
    """`PATCH /admin/config`: a JSON merge patch (RFC 7396) of the managed configuration."""

    config: dict[str, Any]
    comment: str | None = None


class ConfigRollback(_Documented):
    """`POST /admin/config/rollback`: put version `version` in force again, as a new version."""

    version: int = Field(ge=0)
    comment: str | None = None


class ConfigInForce(_Documented):
    """The configuration in force and its version (also sent as the ETag)."""

    version: int
    config: ManagedConfig


class StoredConfigVersion(_Documented):
    """A version of the configuration, who made it and what it changed."""

    version: int
    created_at: str
    actor: str
    comment: str | None
    changes: list[dict[str, Any]]
    config: dict[str, Any]
    restored_from: int | None = None


class ConfigHistory(_Documented):
    """Every stored version, newest first, and version 0 (the configuration file)."""

    versions: list[StoredConfigVersion]
    file_version: ConfigInForce


class OverrideReasonCount(_Documented):
    """How many cards were overridden with one reason."""

    system: str | None
    code: str | None
    display: str | None
    cards: int


class CardTypeFeedback(_Documented):
    """Issued, accepted and overridden cards of one service and card type."""

    service: str
    card_type: str
    issued: int
    accepted: int
    overridden: int
    acceptance_rate: float | None
    override_reasons: list[OverrideReasonCount]


class IssuerCardTypeFeedback(CardTypeFeedback):
    """The same, for the cards issued to one caller (JWT issuer)."""

    issuer: str


class FeedbackSummary(_Documented):
    """`GET /admin/feedback/summary`: every issuer added up, and each issuer apart."""

    since: str = Field(alias="from")
    until: str = Field(alias="to")
    card_types: list[CardTypeFeedback]
    by_issuer: list[IssuerCardTypeFeedback]


class AuditEntry(_Documented):
    """One audit log entry."""

    id: int
    at: str
    event: str
    actor: str | None
    source: str | None
    detail: dict[str, Any] | None


class AuditLog(_Documented):
    """`GET /admin/audit`: entries, newest first."""

    events: list[AuditEntry]


class DataNotUsedCount(_Documented):
    """How often chart data of one kind could not be used by one service."""

    service: str
    kind: str
    count: int


class DataNotUsed(_Documented):
    """`GET /admin/data-not-used`: counts since the service started."""

    since: Literal["start"]
    data_not_used: list[DataNotUsedCount]
