"""The risk services' advice: the models' answers for the record, turned into cards."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace

from cards.card_parts import IssuedCard
from cards.cds_card import Indicator
from cards.diabetes_cards import diabetes_cards
from cards.hypertension_cards import hypertension_cards
from cards.note_card import note_summary_card, unread_notes
from cards.policy import Band, CardPolicy, RiskBands
from cds_service.catalog import (
    DIABETES_RISK,
    HYPERTENSION_RISK,
    NOTE_SUMMARY,
    CdsServiceDefinition,
    ServiceInput,
)
from cds_service.settings import BandSettings, CardSettings, NoteSettings
from fhir_adapters.patient_record import ClinicalNote
from models.hypertension import assess_hypertension
from models.note_analysis import ClinicalReader
from models.note_summary import NoteSummarizer, NoteSummary
from models.registry import RiskModels
from models.sentence_vectors import MiniLmVectors, SentenceVectors, TfidfVectors

MODEL_CARDS_PATH = "/model-cards"
# The SMART launch URL of the detail app (cds_service.smart): the EHR adds `iss` and `launch`.
DETAIL_APP_LAUNCH_PATH = "/smart/launch"
log = logging.getLogger(__name__)
# Finished summaries kept per process, by the content of the notes they summarise.
SUMMARY_CACHE_SIZE = 1_000


def card_policy(cards: CardSettings, public_base_url: str, detail_app: bool = True) -> CardPolicy:
    """The card policy these settings describe; `detail_app`: link the SMART detail app."""

    def indicator(name: str) -> Indicator | None:
        return None if name == "none" else Indicator(name)

    def bands(setting: BandSettings) -> RiskBands:
        chosen = setting.indicators
        return RiskBands(
            setting.moderate_from,
            setting.high_from,
            {
                Band.LOW: indicator(chosen.low),
                Band.MODERATE: indicator(chosen.moderate),
                Band.HIGH: indicator(chosen.high),
            },
        )

    return CardPolicy(
        diabetes=bands(cards.diabetes),
        unmeasured_blood_pressure=bands(cards.unmeasured_blood_pressure),
        hypertension_incidence=bands(cards.hypertension_incidence),
        explain_missing_estimate=cards.explain_missing_estimate,
        suppress_overridden_days=cards.suppress_overridden_days,
        suppress_accepted_days=cards.suppress_accepted_days,
        model_cards_url=public_base_url + MODEL_CARDS_PATH,
        detail_app_url=public_base_url + DETAIL_APP_LAUNCH_PATH if detail_app else None,
    )


class DiabetesAdvice:
    """`diabetes-risk`: both diabetes estimates, then the card rules."""

    def __init__(self, models: RiskModels) -> None:
        self._models = models

    def __call__(self, service_input: ServiceInput) -> Sequence[IssuedCard]:
        """The cards for this call."""
        record = service_input.record
        return diabetes_cards(
            record,
            self._models.dysglycemia.predict(record),
            self._models.undiagnosed_diabetes.predict(record),
            service_input.policy,
            service_input.history,
            service_input.hook_instance,
        )


class HypertensionAdvice:
    """`hypertension-risk`: the answer that fits (detection, if measured, or incidence)."""

    def __init__(self, models: RiskModels) -> None:
        self._models = models

    def __call__(self, service_input: ServiceInput) -> Sequence[IssuedCard]:
        """The cards for this call."""
        record = service_input.record
        assessment = assess_hypertension(
            record,
            self._models.unmeasured_blood_pressure,
            self._models.hypertension_incidence,
        )
        return hypertension_cards(
            record,
            assessment,
            service_input.policy,
            service_input.history,
            service_input.hook_instance,
        )


class NoteSummaryAdvice:
    """`note-summary`: the most recent notes, summarised in their own words, within a budget.

    Reading notes costs ~30 us a character on first sight (0.3-2 s for a chart's ten notes,
    docs/benchmarks.md); seen again, ~1 ms. So one background worker summarises (it alone
    touches spaCy and torch), a call waits at most `answer_within_seconds` and otherwise
    answers without the card, and the finished summary serves the next view of the chart.
    """

    def __init__(self, summarizer: NoteSummarizer, notes: NoteSettings) -> None:
        self._summarizer = summarizer
        self._max_notes = notes.max_notes
        self._wait_seconds = notes.answer_within_seconds
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="note-summary")
        self._lock = threading.Lock()
        self._running: dict[bytes, Future[NoteSummary]] = {}
        self._done: OrderedDict[bytes, NoteSummary] = OrderedDict()

    def __call__(self, service_input: ServiceInput) -> Sequence[IssuedCard]:
        """The card for this call (none when the chart has no note text, or not yet ready)."""
        summary = self.summary_of(service_input.record.notes, self._wait_seconds)
        if summary is None:
            return ()
        unread = unread_notes(service_input.record.data_issues)
        return note_summary_card(
            summary, unread, service_input.history, service_input.hook_instance
        )

    def summary_of(self, notes: Sequence[ClinicalNote], wait_seconds: float) -> NoteSummary | None:
        """The summary of the most recent notes, or None when not ready within the wait."""
        recent = sorted(notes, key=lambda note: (note.date is not None, note.date), reverse=True)
        return self._summary(recent[: self._max_notes], wait_seconds)

    def close(self) -> None:
        """Stop the worker; a summary being made is abandoned."""
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _summary(self, notes: list[ClinicalNote], wait_seconds: float) -> NoteSummary | None:
        key = hashlib.sha256(
            b"\x00".join(f"{n.source}\x01{n.element}\x01{n.text}".encode() for n in notes)
        ).digest()
        submitted = False
        with self._lock:
            done = self._done.get(key)
            if done is not None:
                self._done.move_to_end(key)
                return done
            future = self._running.get(key)
            if future is None:
                future = self._worker.submit(self._summarizer.summarize, notes)
                self._running[key] = future
                submitted = True
        if submitted:
            # Outside the lock: a future already done runs its callback here, at once, and the
            # callback takes the lock.
            future.add_done_callback(functools.partial(self._finished, key))
        try:
            return future.result(timeout=wait_seconds)
        except FutureTimeout:
            log.info("note summary not ready in %.1f s: answered without it", wait_seconds)
        except Exception as exc:  # a summary must never fail the call; no note text is logged
            log.error("note summary failed: %s", type(exc).__name__)
        return None

    def _finished(self, key: bytes, future: Future[NoteSummary]) -> None:
        with self._lock:
            self._running.pop(key, None)
            if future.exception() is None:
                self._done[key] = future.result()
                while len(self._done) > SUMMARY_CACHE_SIZE:
                    self._done.popitem(last=False)


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
    models: RiskModels, note_summaries: NoteSummaryAdvice
) -> tuple[CdsServiceDefinition, ...]:
    """The catalog's services with their advice attached."""
    return (
        replace(DIABETES_RISK, advise=DiabetesAdvice(models)),
        replace(HYPERTENSION_RISK, advise=HypertensionAdvice(models)),
        replace(NOTE_SUMMARY, advise=note_summaries),
    )
