"""`note-summary`: an extractive, negation-aware summary of the patient's recent notes.

`NoteSummaries` reads and summarises (one background worker per process) and shares what it
made with every other worker and replica through the service's database (`NoteSummaryStore`);
the SMART page reads summaries from the same object.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from importlib import metadata
from pathlib import Path

import models
from cards.card_parts import IssuedCard
from cards.note_card import (
    note_summary_card,
    notes_not_summarised_card,
    set_aside_notes,
    unread_notes,
)
from cds_service.services.definition import (
    PATIENT,
    PATIENT_VIEW,
    Advisor,
    CdsServiceDefinition,
    LoadedParts,
    ServiceInput,
)
from cds_service.settings import NoteSettings
from cds_service.storage.dataclass_json import shape_of
from cds_service.storage.note_summaries import NoteSummaryStore
from fhir_adapters.patient_record import ClinicalNote
from fhir_adapters.prefetch import PrefetchTemplate
from models.note_analysis import ClinicalReader
from models.note_summary import NoteSummarizer, NoteSummary
from models.sentence_vectors import MiniLmVectors, SentenceVectors, TfidfVectors

log = logging.getLogger(__name__)
# What decides a summary's words: the note modules of `models` (reading rules, vocabulary,
# sentences, boilerplate, choosing) and the NLP packages. Stored summaries are keyed by a hash
# of them (with the embedder and the summary's shape), so a change to any rule gives new keys
# and no summary made by other rules is served, with no version number to remember to bump.
READING_SOURCES = ("note_*.py", "clinical_findings.py", "sentence_vectors.py")
READING_PACKAGES = ("medspacy", "spacy")
# Finished summaries kept per process, by the content of the notes they summarise.
SUMMARY_CACHE_SIZE = 1_000
# How often a call waiting for another worker's summary looks in the store (one indexed read).
STORE_POLL_SECONDS = 0.05
# Where a summary served came from, for `cdss_note_summaries` (no patient data in a label).
MADE = "made"
SHARED = "shared"


class NoteSummaries:
    """The most recent notes, summarised in their own words, within a budget.

    Reading notes costs ~30 us a character on first sight (0.3-2 s for a chart's ten notes,
    docs/benchmarks.md); seen again, ~1 ms. So one background worker summarises (it alone
    touches spaCy and torch), a call waits at most `answer_within_seconds` and otherwise
    answers without the card, and the finished summary serves the next view of the chart, from
    any worker: with a `store`, a chart is summarised once for all of them (the first to see it
    claims it; the others wait for the stored summary rather than making their own).
    """

    def __init__(
        self,
        summarizer: NoteSummarizer,
        notes: NoteSettings,
        store: NoteSummaryStore | None = None,
        counted: Callable[[str], None] | None = None,
    ) -> None:
        self._summarizer = summarizer
        self._max_notes = notes.max_notes
        self._wait_seconds = notes.answer_within_seconds
        self._store = store
        self._counted = counted or (lambda _source: None)
        # How a summary was read: the rules, the summary's shape and the embedder (TF-IDF's
        # never serves MiniLM's), so a stored summary serves only the code that would make it.
        self._reading = f"{reading_version()} {shape_of(NoteSummary)} {summarizer.method}"
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="note-summary")
        self._lock = threading.Lock()
        self._running: dict[str, Future[NoteSummary]] = {}
        self._done: OrderedDict[str, NoteSummary] = OrderedDict()

    def __call__(self, service_input: ServiceInput) -> Sequence[IssuedCard]:
        """The card for this call (none when the chart has no note text, or not yet ready)."""
        record = service_input.record
        unread = unread_notes(record.data_issues)
        # What this call's gathering set aside is said on this call's card only: the summary is
        # keyed by the notes kept and shared with every call (any worker, any replica) that
        # reads the same notes, whatever else those calls were sent, so it must not carry it.
        set_aside = set_aside_notes(record.data_issues)
        if not record.notes:
            # Nothing to summarise: no wait for the worker to say what was left out.
            return notes_not_summarised_card(
                unread, set_aside, service_input.history, service_input.hook_instance
            )
        summary = self.summary_of(record.notes, self._wait_seconds)
        if summary is None:
            return ()
        return note_summary_card(
            summary, unread, service_input.history, service_input.hook_instance, set_aside
        )

    def summary_of(self, notes: Sequence[ClinicalNote], wait_seconds: float) -> NoteSummary | None:
        """The summary of the most recent notes, or None when not ready within the wait."""
        recent = sorted(notes, key=lambda note: (note.date is not None, note.date), reverse=True)
        return self._summary(recent[: self._max_notes], wait_seconds)

    def close(self) -> None:
        """Stop the worker; summaries being made are abandoned, their claims given up."""
        self._worker.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            abandoned = list(self._running)
        if self._store is None:
            return
        # So that another worker makes them on the next view rather than after the lease.
        for key in abandoned:
            try:
                self._store.release(key, self._reading, _worker_id())
            except Exception as exc:
                log.error("note summary store unavailable: %s", type(exc).__name__)
                return

    def _summary(self, notes: list[ClinicalNote], wait_seconds: float) -> NoteSummary | None:
        deadline = time.monotonic() + wait_seconds
        key = content_sha256(notes)
        with self._lock:
            done = self._done.get(key)
            if done is not None:
                self._done.move_to_end(key)
                return done
            future = self._running.get(key)
        if future is None:
            found = self._shared_or_started(key, notes, deadline)
            if not isinstance(found, Future):
                return found
            future = found
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0.0))
        except FutureTimeout:
            log.info("note summary not ready in %.1f s: answered without it", wait_seconds)
        except Exception as exc:  # a summary must never fail the call; no note text is logged
            log.error("note summary failed: %s", type(exc).__name__)
        return None

    def _shared_or_started(
        self, key: str, notes: list[ClinicalNote], deadline: float
    ) -> NoteSummary | Future[NoteSummary] | None:
        """Another worker's summary from the store, else this worker's in the making."""
        if self._store is None:
            return self._start(key, notes)
        try:
            stored = self._store.lookup(key, self._reading, _worker_id())
            if stored.summary is not None:
                self._remember(key, stored.summary)
                self._counted(SHARED)
                return stored.summary
            if not stored.being_made_elsewhere and self._store.claim(
                key, self._reading, _worker_id()
            ):
                return self._start(key, notes)
        except Exception as exc:  # the database down must not cost the card: made here alone
            log.error("note summary store unavailable: %s", type(exc).__name__)
            return self._start(key, notes)
        with self._lock:  # claimed a moment ago by another call of this process
            running = self._running.get(key)
        return running if running is not None else self._awaited_from_store(key, deadline)

    def _awaited_from_store(self, key: str, deadline: float) -> NoteSummary | None:
        """Another worker is making it: its summary, if stored before the deadline."""
        assert self._store is not None
        while (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(STORE_POLL_SECONDS, remaining))
            try:
                stored = self._store.lookup(key, self._reading, _worker_id())
            except Exception as exc:
                log.error("note summary store unavailable: %s", type(exc).__name__)
                return None
            if stored.summary is not None:
                self._remember(key, stored.summary)
                self._counted(SHARED)
                return stored.summary
        log.info("note summary being made by another worker: answered without it")
        return None

    def _start(self, key: str, notes: list[ClinicalNote]) -> Future[NoteSummary]:
        with self._lock:
            future = self._running.get(key)
            if future is not None:
                return future
            future = self._worker.submit(self._make, key, notes)
            self._running[key] = future
        # Outside the lock: a future already done runs its callback here, at once, and the
        # callback takes the lock.
        future.add_done_callback(functools.partial(self._finished, key))
        return future

    def _make(self, key: str, notes: list[ClinicalNote]) -> NoteSummary:
        """Summarise (in the background worker) and share the summary through the store."""
        try:
            summary = self._summarizer.summarize(notes)
        except Exception:
            if self._store is not None:
                try:
                    self._store.release(key, self._reading, _worker_id())
                except Exception as exc:
                    log.error("note summary store unavailable: %s", type(exc).__name__)
            raise
        self._counted(MADE)
        if self._store is not None:
            try:
                self._store.finish(key, self._reading, _worker_id(), summary)
            except Exception as exc:  # still served by this worker; the others make their own
                log.error("note summary not stored: %s", type(exc).__name__)
        return summary

    def _finished(self, key: str, future: Future[NoteSummary]) -> None:
        with self._lock:
            self._running.pop(key, None)
        if not future.cancelled() and future.exception() is None:
            self._remember(key, future.result())

    def _remember(self, key: str, summary: NoteSummary) -> None:
        with self._lock:
            self._done[key] = summary
            self._done.move_to_end(key)
            while len(self._done) > SUMMARY_CACHE_SIZE:
                self._done.popitem(last=False)


def content_sha256(notes: Sequence[ClinicalNote]) -> str:
    """The SHA-256 of the notes a summary reads (their source, element and text), in hex."""
    return hashlib.sha256(
        b"\x00".join(f"{n.source}\x01{n.element}\x01{n.text}".encode() for n in notes)
    ).hexdigest()


def _worker_id() -> str:
    # Who holds a claim, in words an operator can trace: this machine and process.
    return f"{socket.gethostname()}:{os.getpid()}"


@functools.cache
def reading_version() -> str:
    """A short hash of the reading's sources and NLP package versions (see `READING_SOURCES`)."""
    return sources_hash(Path(models.__file__).parent)


def sources_hash(folder: Path) -> str:
    """The hash `reading_version` gives for the reading's sources in this folder."""
    digest = hashlib.sha256()
    for path in sorted({p for pattern in READING_SOURCES for p in folder.glob(pattern)}):
        digest.update(path.name.encode() + b"\x00" + path.read_bytes())
    for package in READING_PACKAGES:
        digest.update(f"{package}=={metadata.version(package)}".encode())
    return digest.hexdigest()[:12]


def load_note_summarizer(notes: NoteSettings) -> NoteSummarizer:
    """The reader and the sentence vectors, loaded once (a few seconds).

    MiniLM is the default; when it cannot load (PyTorch or the packaged model missing or
    broken), TF-IDF chooses the excerpts and the card says so.
    """
    vectors: SentenceVectors = TfidfVectors()
    if notes.embedder == "minilm":
        try:
            vectors = MiniLmVectors.load(notes.embedder_threads)
        except Exception as exc:  # any failure to load: the summary still serves, by TF-IDF
            log.warning(
                "[notes] embedder = minilm, but MiniLM could not load (%s): note summaries "
                "choose their excerpts by TF-IDF",
                type(exc).__name__,
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
