"""What `cdss doctor` reports, one finding at a time (the checks return these; the CLI prints)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """How a finding stands; only an error stops `cdss serve`."""

    OK = "ok"
    # An optional part not installed, or something `cdss serve` makes at its first start.
    MISSING = "missing"
    # The service starts, but not as it should run with real patients (or with everything on).
    WARNING = "warning"
    # `cdss serve` would refuse to start, or could not serve a call.
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One thing checked: its status, what it is, what was found, and how to fix it."""

    status: Status
    subject: str
    detail: str
    fix: str | None = None
    # A line for "Next:" when this finding is what a newcomer should do next.
    next_step: str | None = None
