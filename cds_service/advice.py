"""The risk services' advice: the models' answers for the record, turned into cards."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from cards.card_parts import IssuedCard
from cards.cds_card import Indicator
from cards.diabetes_cards import diabetes_cards
from cards.hypertension_cards import hypertension_cards
from cards.note_card import note_summary_card
from cards.policy import Band, CardPolicy, RiskBands
from cds_service.catalog import (
    DIABETES_RISK,
    HYPERTENSION_RISK,
    NOTE_SUMMARY,
    CdsServiceDefinition,
    ServiceInput,
)
from cds_service.settings import BandSettings, CardSettings, NoteSettings
from models.hypertension import assess_hypertension
from models.note_analysis import ClinicalReader
from models.note_summary import NoteSummarizer
from models.registry import RiskModels
from models.sentence_vectors import MiniLmVectors, SentenceVectors, TfidfVectors

MODEL_CARDS_PATH = "/model-cards"
log = logging.getLogger(__name__)


def card_policy(cards: CardSettings, public_base_url: str) -> CardPolicy:
    """The configured card policy."""

    def bands(setting: BandSettings) -> RiskBands:
        return RiskBands(setting.moderate_from, setting.high_from)

    def indicator(name: str) -> Indicator | None:
        return None if name == "none" else Indicator(name)

    return CardPolicy(
        diabetes=bands(cards.diabetes),
        unmeasured_blood_pressure=bands(cards.unmeasured_blood_pressure),
        hypertension_incidence=bands(cards.hypertension_incidence),
        incidence_card_from=Band[cards.hypertension_incidence_card_from.upper()],
        indicators={
            Band.LOW: indicator(cards.low_indicator),
            Band.MODERATE: indicator(cards.moderate_indicator),
            Band.HIGH: indicator(cards.high_indicator),
        },
        explain_missing_estimate=cards.explain_missing_estimate,
        suppress_overridden_days=cards.suppress_overridden_days,
        suppress_accepted_days=cards.suppress_accepted_days,
        model_cards_url=public_base_url + MODEL_CARDS_PATH,
    )


class DiabetesAdvice:
    """`diabetes-risk`: both diabetes estimates, then the card rules."""

    def __init__(self, models: RiskModels, policy: CardPolicy) -> None:
        self._models = models
        self._policy = policy

    def __call__(self, service_input: ServiceInput) -> Sequence[IssuedCard]:
        """The cards for this call."""
        record = service_input.record
        return diabetes_cards(
            record,
            self._models.dysglycemia.predict(record),
            self._models.undiagnosed_diabetes.predict(record),
            self._policy,
            service_input.history,
            service_input.hook_instance,
        )


class HypertensionAdvice:
    """`hypertension-risk`: the answer that fits (detection, if measured, or incidence)."""

    def __init__(self, models: RiskModels, policy: CardPolicy) -> None:
        self._models = models
        self._policy = policy

    def __call__(self, service_input: ServiceInput) -> Sequence[IssuedCard]:
        """The cards for this call."""
        record = service_input.record
        assessment = assess_hypertension(
            record,
            self._models.unmeasured_blood_pressure,
            self._models.hypertension_incidence,
        )
        return hypertension_cards(
            record, assessment, self._policy, service_input.history, service_input.hook_instance
        )


class NoteSummaryAdvice:
    """`note-summary`: the most recent notes, summarised in their own words."""

    def __init__(self, summarizer: NoteSummarizer, max_notes: int) -> None:
        self._summarizer = summarizer
        self._max_notes = max_notes

    def __call__(self, service_input: ServiceInput) -> Sequence[IssuedCard]:
        """The card for this call (none when the chart has no note text)."""
        notes = sorted(
            service_input.record.notes,
            key=lambda note: (note.date is not None, note.date),
            reverse=True,
        )[: self._max_notes]
        summary = self._summarizer.summarize(notes)
        return note_summary_card(summary, service_input.history, service_input.hook_instance)


def load_note_summarizer(notes: NoteSettings) -> NoteSummarizer:
    """The reader and the sentence vectors, loaded once (a few seconds)."""
    vectors: SentenceVectors = TfidfVectors()
    if notes.embedder == "minilm":
        try:
            vectors = MiniLmVectors.load()
        except ImportError:
            log.warning(
                "[notes] embedder = minilm, but the [embedder] extra is not installed: "
                "note summaries choose their excerpts by TF-IDF"
            )
    return NoteSummarizer(ClinicalReader.load(), vectors)


def advised_services(
    models: RiskModels, policy: CardPolicy, summarizer: NoteSummarizer, notes: NoteSettings
) -> tuple[CdsServiceDefinition, ...]:
    """The catalog's services with their advice attached."""
    return (
        replace(DIABETES_RISK, advise=DiabetesAdvice(models, policy)),
        replace(HYPERTENSION_RISK, advise=HypertensionAdvice(models, policy)),
        replace(NOTE_SUMMARY, advise=NoteSummaryAdvice(summarizer, notes.max_notes)),
    )
