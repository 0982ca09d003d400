"""The base of every configuration section: unknown keys are errors, values never change."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A configuration section: a misspelt key is refused, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
