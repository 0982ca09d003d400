"""The note summary measured on the project's evaluation set (tests/data/note_eval/cases.json).

36 cases of invented patients written for the project (public domain), each with reference
excerpts, phrases a summary should hold, and the findings by assertion. Reported, per method:
ROUGE-1/2/L F1 against the references beside a lead-N baseline (the first N sentences of the
newest note, N the reference's length), and the faithfulness checks ROUGE is blind to: excerpts
that are not verbatim spans of their note, and findings listed as present that the case holds
denied, possible, past or a relative's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import fmean
from typing import Any

from fhir_adapters.patient_record import ClinicalNote
from models.note_summary import NoteSummarizer, NoteSummary

BUCKETS = ("present", "denied", "possible", "historical", "family")
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


@dataclass(frozen=True)
class EvaluationCase:
    """One case: its notes and what a faithful summary of them is."""

    case_id: str
    kind: str
    notes: tuple[ClinicalNote, ...]
    reference: tuple[str, ...]
    must_include: tuple[str, ...]
    findings: dict[str, frozenset[str]]


def load_cases(path: Path) -> list[EvaluationCase]:
    """The cases of the evaluation set."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return [
        EvaluationCase(
            case_id=case["id"],
            kind=case["kind"],
            notes=tuple(
                ClinicalNote(
                    source=f"DocumentReference/{case['id']}-{note['id']}",
                    element="content[0].attachment",
                    date=datetime.fromisoformat(note["date"]),
                    title=note["title"],
                    content_type="text/plain",
                    text=note["text"],
                )
                for note in case["notes"]
            ),
            reference=tuple(case["reference_summary"]),
            must_include=tuple(case["must_include"]),
            findings={bucket: frozenset(case[bucket]) for bucket in BUCKETS},
        )
        for case in document["cases"]
    ]


def not_verbatim(summary: NoteSummary, case: EvaluationCase) -> list[str]:
    """Excerpts that are not the exact span of their note they claim to be."""
    texts = {note.source: note.text for note in case.notes}
    return [e.text for e in summary.excerpts if texts.get(e.source, "")[e.start : e.end] != e.text]


def false_present(summary: NoteSummary, case: EvaluationCase) -> set[str]:
    """Problems listed as present that the case holds only denied, possible, past or family."""
    elsewhere = set().union(*(case.findings[b] for b in BUCKETS if b != "present"))
    return (set(summary.problems.present) & elsewhere) - case.findings["present"]


def _lead(summarizer: NoteSummarizer, case: EvaluationCase, count: int) -> str:
    """The baseline: the first `count` sentences of the newest note (headers and fragments out)."""
    newest = max(case.notes, key=lambda note: note.date or datetime.min)
    sentences = [
        s.text
        for s in summarizer.read(newest).sentences
        if not s.is_header and len(s.text.split()) > 3
    ]
    return " ".join(sentences[:count])


def evaluate(summarizer: NoteSummarizer, cases: Sequence[EvaluationCase]) -> dict[str, Any]:
    """The figures for one summarizer over every case."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    system: dict[str, list[float]] = {name: [] for name in ROUGE_TYPES}
    lead: dict[str, list[float]] = {name: [] for name in ROUGE_TYPES}
    verbatim_failures: list[str] = []
    false_present_cases: dict[str, list[str]] = {}
    included = total_phrases = 0
    agreement = {bucket: [0, 0, 0] for bucket in BUCKETS}  # true positive, found, expected
    for case in cases:
        summary = summarizer.summarize(case.notes)
        reference = " ".join(case.reference)
        chosen = " ".join(e.text for e in summary.excerpts)
        for name, score in scorer.score(reference, chosen).items():
            system[name].append(score.fmeasure)
        baseline = _lead(summarizer, case, len(case.reference))
        for name, score in scorer.score(reference, baseline).items():
            lead[name].append(score.fmeasure)
        verbatim_failures += [f"{case.case_id}: {t}" for t in not_verbatim(summary, case)]
        wrong = false_present(summary, case)
        if wrong:
            false_present_cases[case.case_id] = sorted(wrong)
        total_phrases += len(case.must_include)
        included += sum(1 for phrase in case.must_include if phrase in chosen)
        for bucket in BUCKETS:
            found, expected = set(getattr(summary.problems, bucket)), case.findings[bucket]
            agreement[bucket][0] += len(found & expected)
            agreement[bucket][1] += len(found)
            agreement[bucket][2] += len(expected)
    return {
        "method": summarizer.method,
        "cases": len(cases),
        "notes": sum(len(case.notes) for case in cases),
        "rouge": {name: fmean(values) for name, values in system.items()},
        "lead_n_rouge": {name: fmean(values) for name, values in lead.items()},
        "must_include_recall": included / total_phrases if total_phrases else 0.0,
        "not_verbatim": verbatim_failures,
        "false_present": false_present_cases,
        "findings": {
            bucket: {
                "precision": tp / found if found else 1.0,
                "recall": tp / expected if expected else 1.0,
            }
            for bucket, (tp, found, expected) in agreement.items()
        },
    }
