"""What the note summary costs: a chart's notes read for the first time, and seen again.

Run: `.venv/bin/python bench/note_costs.py --write docs/benchmarks.md`
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date
from pathlib import Path

import cds_service.app  # noqa: F401  (the package first: tests/ on the path would shadow it)
from fhir_adapters.record_builder import build_patient_record
from models.note_analysis import ClinicalReader
from models.note_summary import NoteSummarizer
from models.sentence_vectors import MiniLmVectors, TfidfVectors

REPO = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from report import emit  # noqa: E402
from synthetic_patients import synthea_patients  # noqa: E402

MAX_NOTES = 10  # as [notes] max_notes
WARM_REPEATS = 50


def main() -> None:
    """Measure; print the section, and write it with `--write FILE`."""
    start = time.perf_counter()
    reader = ClinicalReader.load()
    reader_seconds = time.perf_counter() - start
    start = time.perf_counter()
    minilm = MiniLmVectors.load()
    minilm_seconds = time.perf_counter() - start
    charts = []
    for name, bundle in synthea_patients().items():
        resources = [{"id": f"r{n}", **e["resource"]} for n, e in enumerate(bundle["entry"])]
        patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        notes = build_patient_record(patient, resources, date(2026, 11, 23)).notes
        charts.append((name, sorted(notes, key=lambda n: str(n.date), reverse=True)[:MAX_NOTES]))
    rows = []
    for name, notes in charts:
        for vectors in (TfidfVectors(), minilm):
            summarizer = NoteSummarizer(reader, vectors)
            start = time.perf_counter()
            summarizer.summarize(notes)
            cold = (time.perf_counter() - start) * 1000
            warm = []
            for _ in range(WARM_REPEATS):
                start = time.perf_counter()
                summarizer.summarize(notes)
                warm.append((time.perf_counter() - start) * 1000)
            rows.append(
                (name, sum(len(n.text) for n in notes), vectors, cold, statistics.median(warm))
            )
        minilm = MiniLmVectors.load()  # an empty embedding cache for the next chart
    lines = [
        "## Note summary: first and later views of a chart",
        "",
        "Command: `.venv/bin/python bench/note_costs.py --write docs/benchmarks.md` "
        f"(one process; the {MAX_NOTES} most recent notes of each Synthea test patient; later "
        f"view: median of {WARM_REPEATS})",
        "",
        f"Loading, once per worker: the clinical reader (medspacy) {reader_seconds:.1f} s, the "
        f"MiniLM embedder {minilm_seconds:.1f} s.",
        "",
        "| chart | characters | excerpts chosen by | first view ms | later view ms |",
        "|---|---:|---|---:|---:|",
        *(
            f"| {name} | {chars} | {v.method} | {cold:.0f} | {warm:.1f} |"
            for name, chars, v, cold, warm in rows
        ),
        "",
        "A first view reads every note (medspacy) and embeds its candidate sentences; later views",
        "find both cached by content. The service makes first views in a background worker and",
        "answers without the card when one is not ready within `[notes] answer_within_seconds`.",
    ]
    emit("\n".join(lines), REPO)


if __name__ == "__main__":
    main()
