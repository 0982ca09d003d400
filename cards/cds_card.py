"""CDS Hooks 2.0 cards as typed records that cannot break the specification's rules.

A card that violates the specification fails when it is built, not when an EHR renders it:
summary under 140 characters, indicator from the enum, `selectionBehavior` whenever there are
suggestions, a `display` on every override reason, link types, `appContext` only on smart
links. `to_json()` leaves out every optional attribute without a value, as the spec asks.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SUMMARY_MAX_CHARACTERS = 139  # "<140 characters"


def _new_uuid() -> str:
    return str(uuid.uuid4())


class Indicator(StrEnum):
    """How urgent a card is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class SelectionBehavior(StrEnum):
    """How many of a card's suggestions the clinician may accept."""

    AT_MOST_ONE = "at-most-one"
    ANY = "any"


class ActionType(StrEnum):
    """What a suggested action does to the EHR's data."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class LinkType(StrEnum):
    """An ordinary web page, or a SMART app to launch."""

    ABSOLUTE = "absolute"
    SMART = "smart"


class _CardPart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON form, without optional attributes that have no value."""
        cleaned: dict[str, Any] = _without_empty(
            self.model_dump(mode="json", by_alias=True, exclude_none=True)
        )
        return cleaned


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in ("", [], {}, None)}
    if isinstance(value, list):
        return [_without_empty(item) for item in value]
    return value


class Coding(_CardPart):
    """A FHIR Coding."""

    system: str | None = None
    code: str = Field(min_length=1)
    display: str | None = None


class OverrideReason(Coding):
    """A reason a clinician may give for not following a card; `display` is required."""

    display: str = Field(min_length=1)


class Source(_CardPart):
    """Where a card's advice comes from."""

    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_CardPart):
    """One change to the EHR's data that a suggestion proposes."""

    type: ActionType
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resource_id: str | None = Field(default=None, alias="resourceId")

    @model_validator(mode="after")
    def _target_matches_type(self) -> Action:
        if self.type in (ActionType.CREATE, ActionType.UPDATE):
            if not self.resource or "resourceType" not in self.resource:
                raise ValueError(f"a {self.type.value} action needs a whole FHIR resource")
        elif not self.resource_id:
            raise ValueError("a delete action needs resourceId")
        return self


class Suggestion(_CardPart):
    """A set of actions accepted together (one FHIR transaction)."""

    label: str = Field(min_length=1)
    uuid: str = Field(default_factory=_new_uuid)
    is_recommended: bool | None = Field(default=None, alias="isRecommended")
    actions: tuple[Action, ...] = ()


class Link(_CardPart):
    """A web page or SMART app the clinician can open from the card."""

    label: str = Field(min_length=1)
    url: str = Field(min_length=1)
    type: LinkType
    app_context: str | None = Field(default=None, alias="appContext")
    autolaunchable: bool | None = None

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an absolute http(s) URL")
        return value

    @model_validator(mode="after")
    def _app_context_only_on_smart(self) -> Link:
        if self.type is not LinkType.SMART and (self.app_context or self.autolaunchable):
            raise ValueError("appContext and autolaunchable belong on smart links only")
        return self


class Card(_CardPart):
    """One CDS Hooks card; every card carries a uuid so feedback can refer to it."""

    summary: str = Field(min_length=1, max_length=SUMMARY_MAX_CHARACTERS)
    indicator: Indicator
    source: Source
    uuid: str = Field(default_factory=_new_uuid)
    detail: str | None = None
    suggestions: tuple[Suggestion, ...] = ()
    selection_behavior: SelectionBehavior | None = Field(default=None, alias="selectionBehavior")
    override_reasons: tuple[OverrideReason, ...] = Field(default=(), alias="overrideReasons")
    links: tuple[Link, ...] = ()

    @model_validator(mode="after")
    def _selection_behavior_with_suggestions(self) -> Card:
        if self.suggestions and self.selection_behavior is None:
            raise ValueError("selectionBehavior is required when there are suggestions")
        if not self.suggestions and self.selection_behavior is not None:
            raise ValueError("selectionBehavior only makes sense with suggestions")
        return self
