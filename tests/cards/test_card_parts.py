"""The pieces every card shares: a summary that fits the CDS Hooks limit, never cut mid-word."""

from __future__ import annotations

from cards.card_parts import fitting_summary
from cards.cds_card import SUMMARY_MAX_CHARACTERS


def test_the_first_wording_that_fits_is_chosen() -> None:
    long = "BP 150/95 mmHg on " + ", ".join(["lisinopril"] * 20) + ": above the goal"
    short = "BP 150/95 mmHg on 20 drugs: above the goal"
    assert len(long) > SUMMARY_MAX_CHARACTERS
    assert fitting_summary(long, short) == short
    assert fitting_summary(short, long) == short


def test_when_nothing_fits_the_last_is_shortened_at_a_word() -> None:
    words = " ".join(f"word{n}" for n in range(60))
    summary = fitting_summary(words)
    assert len(summary) <= SUMMARY_MAX_CHARACTERS
    assert summary.endswith("\u2026")
    assert summary[:-1] in words
    assert words[len(summary) - 1] == " "  # the cut falls between words
