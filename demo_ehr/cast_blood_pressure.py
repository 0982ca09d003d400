"""Cast members led by a blood pressure card (see `demo_ehr.cast`): pregnancy and postpartum,
children and adolescents, treatment and diagnosis, and home series."""

from __future__ import annotations

from datetime import date

from demo_ehr.chart_writer import CastMember


def members(today: date) -> list[CastMember]:
    """Every blood-pressure-led member, dated from `today`."""
    return []
