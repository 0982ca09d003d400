"""What the note summary costs, per embedder: a chart's first view (nothing cached, and where
that time goes), a later view in the same worker, and a view in another worker, which reads the
summary the first one stored in the database.

Run: `.venv/bin/python bench/note_costs.py --write docs/benchmarks.md`
"""

from __future__ import annotations

import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import cds_service.app  # noqa: F401  (the package first: tests/ on the path would shadow it)
from cds_service.services.note_summary import MADE, SHARED, NoteSummaries
from cds_service.settings import NoteSettings
from cds_service.storage.database import create_database_engine, migrate
from cds_service.storage.note_summaries import NoteSummaryStore
from fhir_adapters.patient_record import ClinicalNote
from fhir_adapters.record_builder import build_patient_record
from models.note_analysis import ClinicalReader, NoteAnalysis, reading_copy
from models.note_sentences import SENTENCES_COMPONENT
from models.note_summary import NoteSummarizer, NoteSummary
from models.sentence_vectors import FloatArray, MiniLmVectors, SentenceVectors, TfidfVectors

REPO = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from report import emit  # noqa: E402
from synthetic_patients import synthea_patients  # noqa: E402

MAX_NOTES = 10  # as [notes] max_notes
THREADS = NoteSettings().embedder_threads  # as deployed
REPEATS = 50
# A first view waits as long as it takes here: the bench measures the summary, not the budget.
NO_BUDGET_SECONDS = 600.0
# medspacy's pipeline stages, in words (a stage not named here is shown by its own name).
STAGES = {
    "tokenizer": "tokens",
    SENTENCES_COMPONENT: "sentences",
    "medspacy_target_matcher": "finding matching",
    "medspacy_context": "ConText",
    "medspacy_sectionizer": "sections",
}


class TimedReader:
    """The clinical reader, adding up the time it reads for."""

    def __init__(self, reader: ClinicalReader) -> None:
        self.reader = reader
        self.seconds = 0.0

    def read(self, note: ClinicalNote) -> NoteAnalysis:
        """See `ClinicalReader.read`."""
        start = time.perf_counter()
        analysis = self.reader.read(note)
        self.seconds += time.perf_counter() - start
        return analysis


class TimedVectors:
    """Sentence vectors, adding up the time they embed for."""

    def __init__(self, vectors: SentenceVectors) -> None:
        self.inner = vectors
        self.method = vectors.method
        self.seconds = 0.0

    def vectors(self, sentences: Sequence[str]) -> FloatArray:
        """See `SentenceVectors.vectors`."""
        start = time.perf_counter()
        result = self.inner.vectors(sentences)
        self.seconds += time.perf_counter() - start
        return result


class TimedSummarizer(NoteSummarizer):
    """The summarizer, adding up the time it summarises for."""

    seconds = 0.0

    def summarize(self, notes: Sequence[ClinicalNote]) -> NoteSummary:
        """See `NoteSummarizer.summarize`."""
        start = time.perf_counter()
        summary = super().summarize(notes)
        self.seconds += time.perf_counter() - start
        return summary


def _ms(seconds: float) -> float:
    return seconds * 1000


def _median_ms(action: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return _ms(statistics.median(times))


def _stage_ms(reader: ClinicalReader, notes: Sequence[ClinicalNote]) -> dict[str, float]:
    """medspacy's stages over these notes, one at a time, as `nlp(text)` runs them."""
    # The bench looks inside the reader; the service never does.
    nlp: Any = reader._nlp
    stages: dict[str, float] = {}
    for note in notes:
        copy = reading_copy(note.text)
        start = time.perf_counter()
        doc = nlp.make_doc(copy)
        stages["tokens"] = stages.get("tokens", 0.0) + time.perf_counter() - start
        for name, component in nlp.pipeline:
            start = time.perf_counter()
            doc = component(doc)
            label = STAGES.get(name, name)
            stages[label] = stages.get(label, 0.0) + time.perf_counter() - start
    return {label: _ms(seconds) for label, seconds in stages.items()}


def _charts() -> list[tuple[str, list[ClinicalNote]]]:
    charts = []
    for name, bundle in synthea_patients().items():
        resources = [{"id": f"r{n}", **e["resource"]} for n, e in enumerate(bundle["entry"])]
        patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        notes = build_patient_record(patient, resources, date(2026, 11, 23)).notes
        charts.append((name, sorted(notes, key=lambda n: str(n.date), reverse=True)[:MAX_NOTES]))
    return charts


def _views(
    reader: ClinicalReader,
    vectors: SentenceVectors,
    notes: list[ClinicalNote],
    store: NoteSummaryStore,
) -> dict[str, float]:
    """One chart's first view, later views and other workers' views, in ms."""
    settings = NoteSettings(embedder="tfidf", max_notes=MAX_NOTES)
    timed_reader, timed_vectors = TimedReader(reader), TimedVectors(vectors)
    summarizer = TimedSummarizer(timed_reader, timed_vectors)  # type: ignore[arg-type]
    counted: list[str] = []
    first_worker = NoteSummaries(summarizer, settings, store, counted.append)
    start = time.perf_counter()
    summary = first_worker.summary_of(notes, NO_BUDGET_SECONDS)
    cold = time.perf_counter() - start
    assert summary is not None
    assert counted == [MADE]
    same_worker = _median_ms(lambda: first_worker.summary_of(notes, NO_BUDGET_SECONDS))
    first_worker.close()

    def other_worker_view() -> None:
        # A worker that never saw the chart: nothing in its memory, the summary in the store.
        other = NoteSummaries(summarizer, settings, store, counted.append)
        assert other.summary_of(notes, NO_BUDGET_SECONDS) == summary
        other.close()

    other_workers = _median_ms(other_worker_view)
    assert counted == [MADE] + [SHARED] * REPEATS, "another worker made the summary again"
    reading, embedding = timed_reader.seconds, timed_vectors.seconds
    return {
        "cold": _ms(cold),
        "reading": _ms(reading),
        "embedding": _ms(embedding),
        "choosing": _ms(summarizer.seconds - reading - embedding),
        "sharing": _ms(cold - summarizer.seconds),
        "same worker": same_worker,
        "other worker": other_workers,
    }


def main() -> None:
    """Measure; print the section, and write it with `--write FILE`."""
    start = time.perf_counter()
    reader = ClinicalReader.load()
    reader_seconds = time.perf_counter() - start
    start = time.perf_counter()
    MiniLmVectors.load(THREADS)
    minilm_seconds = time.perf_counter() - start
    charts = _charts()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        # As deployed by default: SQLite in a file, every commit synced.
        engine = create_database_engine(f"sqlite:///{folder}/cdss.db")
        migrate(engine)
        store = NoteSummaryStore(engine)
        for name, notes in charts:
            embedders: tuple[Callable[[], SentenceVectors], ...] = (
                TfidfVectors,
                functools.partial(MiniLmVectors.load, THREADS),
            )
            for load in embedders:
                # A fresh reader cache and embedder cache: the chart is new to this worker.
                vectors = load()
                chars = sum(len(n.text) for n in notes)
                rows.append((name, chars, vectors.method, _views(reader, vectors, notes, store)))
        engine.dispose()
    stages = _stage_ms(reader, [note for _, notes in charts for note in notes])
    reading_total = sum(stages.values())
    lines = [
        "## Note summary: first and later views of a chart",
        "",
        "Command: `.venv/bin/python bench/note_costs.py --write docs/benchmarks.md` "
        f"(one process; the {MAX_NOTES} most recent notes of each Synthea test patient; SQLite "
        f"in a file as the store; MiniLM on {THREADS} PyTorch threads, `[notes] embedder_threads`; "
        f"later and other-worker views: median of {REPEATS})",
        "",
        f"Loading, once per server (before the fork): the clinical reader (medspacy) "
        f"{reader_seconds:.1f} s, the MiniLM embedder {minilm_seconds:.1f} s.",
        "",
        "| chart | characters | excerpts chosen by | first view ms | reading | embedding "
        "| choosing | claim and store | later view, same worker ms | first view, other worker ms |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {chars} | {method} | {v['cold']:.0f} | {v['reading']:.0f} "
            f"| {v['embedding']:.0f} | {v['choosing']:.0f} | {v['sharing']:.0f} "
            f"| {v['same worker']:.3f} | {v['other worker']:.1f} |"
            for name, chars, method, v in rows
        ),
        "",
        "A first view reads every note (medspacy), embeds the candidate sentences and chooses "
        "the excerpts (centrality, maximal marginal relevance); it claims the chart in the "
        "database first and stores the summary after. Reading, by medspacy stage, over all "
        f"these charts' notes (a second pass): {reading_total:.0f} ms = "
        + ", ".join(
            f"{label} {ms:.0f}" for label, ms in sorted(stages.items(), key=lambda s: -s[1])
        )
        + ".",
        "",
        "A later view in the same worker finds the summary in its memory; a first view in "
        "another worker (or replica) reads it from the database (one indexed read and the "
        "JSON decoded) and never makes it again. The service makes first views in a background "
        "worker and answers without the card when one is not ready within `[notes] "
        "answer_within_seconds`; the next view, from any worker, has it.",
    ]
    emit("\n".join(lines), REPO)


if __name__ == "__main__":
    main()
