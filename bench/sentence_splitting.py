"""Sentence splitting: PyRuSH with the line-break rule against the rule-based `cdss_sentences`.

Run: `.venv/bin/python bench/sentence_splitting.py` (prints a Markdown section; writes nothing).

Speed on the 10 most recent notes of each Synthea test patient (the components alone, on docs
already tokenized), the log records each path writes to the root logger for one chart, and how
many reference sentences of the development evaluation cases each gives whole.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import re
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from demo_ehr.patients import synthea_patients
from fhir_adapters.record_builder import build_patient_record
from models.note_analysis import reading_copy
from models.note_sentences import mark_sentence_starts, sentence_starts, trimmed

REPO = Path(__file__).resolve().parent.parent
MAX_NOTES = 10  # as [notes] max_notes
REPEATS = 7
EVALUATION_CASES = REPO / "tests" / "data" / "note_eval" / "cases.json"
# The line-break rule PyRuSH ran with before `cdss_sentences` (models/note_analysis.py).
_OLD_NEXT_LINE_STARTS_ITEM = re.compile(r"\s*(?:[-*\u2022#]|\d{1,2}[.)])")


def old_line_breaks(copy: str) -> list[int]:
    """Offsets of the line breaks that ended a sentence with PyRuSH (the rule as it was)."""
    breaks = []
    offset = 0
    for current, following in itertools.pairwise(copy.split("\n")):
        offset += len(current) + 1
        ends = current.rstrip()
        if (
            not ends
            or not following.strip()
            or ends[-1] in ".:;!?"
            or _OLD_NEXT_LINE_STARTS_ITEM.match(following)
        ):
            breaks.append(offset - 1)
    return breaks


def pyrush_path() -> tuple[Any, Callable[[Any], Any]]:
    """A tokenizer and the old sentence components (PyRuSH, then the line-break rule)."""
    from loguru import logger

    logger.disable("PyRuSH")  # as ClinicalReader.load: PyRuSH logs note text through loguru
    import medspacy

    nlp = medspacy.load(medspacy_enable=["medspacy_pyrush"])
    pyrush = nlp.get_pipe("medspacy_pyrush")

    def split(doc: Any) -> Any:
        doc = pyrush(doc)
        starts = [token.idx for token in doc]
        for offset in old_line_breaks(doc.text):
            index = bisect.bisect_right(starts, offset)
            if 0 < index < len(doc):
                doc[index].is_sent_start = True
        return doc

    return nlp, split


def chart_copies() -> dict[str, list[str]]:
    """The reading copies of each Synthea chart's most recent notes, as bench/note_costs.py."""
    charts = {}
    for name, bundle in synthea_patients().items():
        resources = [{"id": f"r{n}", **e["resource"]} for n, e in enumerate(bundle["entry"])]
        patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        notes = build_patient_record(patient, resources, date(2026, 11, 23)).notes
        recent = sorted(notes, key=lambda n: str(n.date), reverse=True)[:MAX_NOTES]
        charts[name] = [reading_copy(note.text) for note in recent]
    return charts


def median_seconds(nlp: Any, copies: list[str], split: Callable[[Any], Any]) -> float:
    """Median over `REPEATS` of the time `split` takes on the chart's notes, tokenized first."""
    runs = []
    for _ in range(REPEATS):
        docs = [nlp.make_doc(copy) for copy in copies]
        start = time.perf_counter()
        for doc in docs:
            split(doc)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1


def root_log_records(nlp: Any, copies: list[str], split: Callable[[Any], Any]) -> int:
    """Records the root logger receives, at DEBUG, while `split` reads the chart's notes."""
    root = logging.getLogger()
    counter, level, handlers = _Counter(), root.level, root.handlers[:]
    # Counted only: `logging.info` with no root handler would have added one writing to stderr.
    root.handlers = [counter]
    root.setLevel(logging.DEBUG)
    try:
        for copy in copies:
            split(nlp.make_doc(copy))
    finally:
        root.handlers = handlers
        root.setLevel(level)
    return counter.records


def spans(text: str, starts: list[int]) -> list[tuple[int, int]]:
    """Sentence spans of a note as the clinical reader cuts them (white space trimmed)."""
    copy = reading_copy(text)
    found = []
    for first, last in zip(starts, [*starts[1:], len(text)], strict=False):
        start, end = trimmed(text, copy, first, last)
        if start < end:
            found.append((start, end))
    return found


def reference_matches(starts_of: Callable[[str], list[int]]) -> tuple[int, int, int]:
    """Reference sentences given as one sentence, as whole sentences (one or more), and in all."""
    exact = whole = total = 0
    for case in json.loads(EVALUATION_CASES.read_text())["cases"]:
        cut = {note["id"]: spans(note["text"], starts_of(note["text"])) for note in case["notes"]}
        for reference in case["reference_summary"]:
            total += 1
            places = [
                (note["id"], at, at + len(reference))
                for note in case["notes"]
                if (at := note["text"].find(reference)) >= 0
            ]
            exact += any((a, b) in cut[n] for n, a, b in places)
            whole += any(
                a in {s for s, _ in cut[n]} and b in {e for _, e in cut[n]} for n, a, b in places
            )
    return exact, whole, total


def main() -> None:
    """Measure and print the Markdown section."""
    # PyRuSH's records stay out of the timings and the output (the service's level is WARNING).
    logging.getLogger().addHandler(logging.NullHandler())
    nlp, old_split = pyrush_path()
    charts = chart_copies()
    rows = []
    for name, copies in charts.items():
        characters = sum(len(copy) for copy in copies)
        old = median_seconds(nlp, copies, old_split)
        new = median_seconds(nlp, copies, mark_sentence_starts)
        rows.append((name, characters, old, new))
    first = next(iter(charts))
    old_logs = root_log_records(nlp, charts[first], old_split)
    new_logs = root_log_records(nlp, charts[first], mark_sentence_starts)

    def old_starts(text: str) -> list[int]:
        return [span.start_char for span in old_split(nlp.make_doc(reading_copy(text))).sents]

    def new_starts(text: str) -> list[int]:
        return sentence_starts(reading_copy(text))

    old_exact, old_whole, total = reference_matches(old_starts)
    new_exact, new_whole, _ = reference_matches(new_starts)
    lines = [
        "## Sentence splitting: PyRuSH and the line-break rule, or `cdss_sentences`",
        "",
        "Command: `.venv/bin/python bench/sentence_splitting.py` (the sentence components alone,"
        f" on notes already tokenized; the {MAX_NOTES} most recent notes of each Synthea test"
        f" patient; median of {REPEATS})",
        "",
        "| chart | characters | PyRuSH + line breaks ms | chars/s | cdss_sentences ms | chars/s "
        "| faster |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {chars} | {old * 1000:.1f} | {chars / old:,.0f} | {new * 1000:.2f} "
            f"| {chars / new:,.0f} | {old / new:.0f}x |"
            for name, chars, old, new in rows
        ),
        "",
        f"Log records on the root logger (at DEBUG) while reading {first}: PyRuSH {old_logs},"
        f" cdss_sentences {new_logs}.",
        "",
        f"Reference sentences of the development evaluation cases ({total}): one sentence exactly"
        f" PyRuSH {old_exact}, cdss_sentences {new_exact}; whole sentences (one or more) PyRuSH"
        f" {old_whole}, cdss_sentences {new_whole}.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
