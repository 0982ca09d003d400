"""`note-summary`: an extractive, negation-aware summary of the patient's recent notes.

`NoteSummaries` reads and summarises (one background worker, a cache of finished summaries);
the SMART page reads summaries from the same object.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from cards.card_parts import IssuedCard
from cards.note_card import note_summary_card, unread_notes
from cds_service.services.definition import (
    PATIENT,
    PATIENT_VIEW,
    Advisor,
    CdsServiceDefinition,
    LoadedParts,
    ServiceInput,
)
from cds_service.settings import NoteSettings
from fhir_adapters.patient_record import ClinicalNote
from fhir_adapters.prefetch import PrefetchTemplate
from models.note_analysis import ClinicalReader
from models.note_summary import NoteSummarizer, NoteSummary
from models.sentence_vectors import MiniLmVectors, SentenceVectors, TfidfVectors

log = logging.getLogger(__name__)
# Finished summaries kept per process, by the content of the notes they summarise.
SUMMARY_CACHE_SIZE = 1_000


class NoteSummaries:
    """The most recent notes, summarised in their own words, within a budget.

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
            vectors = MiniLmVectors.load(notes.embedder_threads)
        except ImportError:
            log.warning(
                "[notes] embedder = minilm, but the [embedder] extra is not installed: "
                "note summaries choose their excerpts by TF-IDF"
            )
    return NoteSummarizer(ClinicalReader.load(), vectors)


def _advisor(parts: LoadedParts) -> Advisor:
    return parts.note_summaries


DEFINITION = CdsServiceDefinition(
    id="note-summary",
    hook=PATIENT_VIEW,
    title="Summary of recent clinical notes",
    description=(
        "An extractive, negation-aware summary of the patient's recent notes: every line is "
        "quoted from its source, with the note's date and type."
    ),
    prefetch=(
        PATIENT,
        # The 20 most recent of each: the first page is what the summary wants.
        PrefetchTemplate(
            "documents",
            "DocumentReference?patient={{context.patientId}}&_sort=-date&_count=20",
            all_pages=False,
        ),
        PrefetchTemplate(
            "reports",
            "DiagnosticReport?patient={{context.patientId}}&_sort=-date&_count=20",
            required=False,
            all_pages=False,
        ),
    ),
    advisor=_advisor,
)
