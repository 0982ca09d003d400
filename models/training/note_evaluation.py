"""The note summary measured on the project's two note sets (tests/data/note_eval/).

Both sets are invented patients written for the project (public domain), each case with reference
excerpts, phrases a summary should hold, the findings by assertion and, optionally, the template
sentences that should never be chosen. `cases.json` is the development set: the reading's rules
were corrected against it. `heldout.json` was written without reading the rules and frozen by its
SHA-256 (`heldout.sha256`) before any rule change, so its figures are the honest ones.

Reported per set and method: ROUGE-1/2/L F1 against the references beside a lead-N baseline (the
first N sentences of the newest note, N the reference's length); the faithfulness checks ROUGE is
blind to (excerpts that are not verbatim spans of their note, findings listed as present that the
case holds denied, possible, past or a relative's); assertion precision and recall per class with
their counts; and informativeness (the share of chosen excerpts that are labelled template text,
and the share of reference excerpts chosen).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import fmean
from typing import Any

from fhir_adapters.patient_record import ClinicalNote
from models.note_summary import NoteSummarizer, NoteSummary

BUCKETS = ("present", "denied", "possible", "historical", "family")
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
# An excerpt (or a reference sentence) counts as covered by labelled spans when at least this
# share of its characters lies inside them: excerpt boundaries need not match the labeller's.
COVERED_SHARE = 0.5


@dataclass(frozen=True)
class EvaluationCase:
    """One case: its notes and what a faithful summary of them is."""

    case_id: str
    kind: str
    notes: tuple[ClinicalNote, ...]
    reference: tuple[str, ...]
    must_include: tuple[str, ...]
    findings: dict[str, frozenset[str]]
    uninformative: tuple[str, ...] = ()


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
            reference=tuple(case.get("reference_summary", ())),
            must_include=tuple(case.get("must_include", ())),
            findings={bucket: frozenset(case.get(bucket, ())) for bucket in BUCKETS},
            uninformative=tuple(case.get("uninformative", ())),
        )
        for case in document["cases"]
    ]


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, as `sha256sum` prints it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recorded_digest(path: Path) -> str:
    """The digest a `sha256sum`-style file records (its first field)."""
    return path.read_text(encoding="utf-8").split()[0]


def _spans_of(case: EvaluationCase, sentences: Iterable[str]) -> dict[str, list[tuple[int, int]]]:
    """Where each sentence occurs, per note source (copy-forward puts one in several notes)."""
    spans: dict[str, list[tuple[int, int]]] = {note.source: [] for note in case.notes}
    for note in case.notes:
        for sentence in sentences:
            at = note.text.find(sentence)
            while sentence and at != -1:
                spans[note.source].append((at, at + len(sentence)))
                at = note.text.find(sentence, at + 1)
    return spans


def _covered(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether at least COVERED_SHARE of [start, end) lies inside the spans."""
    inside = {i for a, b in spans for i in range(max(a, start), min(b, end))}
    return end > start and len(inside) >= COVERED_SHARE * (end - start)


def uninformative_chosen(summary: NoteSummary, case: EvaluationCase) -> list[str]:
    """Chosen excerpts that are mostly sentences the case labels as template text."""
    spans = _spans_of(case, case.uninformative)
    return [e.text for e in summary.excerpts if _covered(e.start, e.end, spans.get(e.source, []))]


def reference_chosen(summary: NoteSummary, case: EvaluationCase) -> int:
    """How many reference sentences the chosen excerpts cover (in any note that holds one)."""
    chosen: dict[str, list[tuple[int, int]]] = {}
    for e in summary.excerpts:
        chosen.setdefault(e.source, []).append((e.start, e.end))
    count = 0
    for sentence in case.reference:
        occurrences = _spans_of(case, [sentence])
        count += any(
            _covered(a, b, chosen.get(source, []))
            for source, spans in occurrences.items()
            for a, b in spans
        )
    return count


def not_verbatim(summary: NoteSummary, case: EvaluationCase) -> list[str]:
    """Excerpts that are not the exact span of their note they claim to be."""
    texts = {note.source: note.text for note in case.notes}
    return [e.text for e in summary.excerpts if texts.get(e.source, "")[e.start : e.end] != e.text]


def false_present(summary: NoteSummary, case: EvaluationCase) -> set[str]:
    """Problems listed as present that the case holds only denied, possible, past or family."""
    elsewhere = set().union(*(case.findings[b] for b in BUCKETS if b != "present"))
    return (set(summary.problems.present) & elsewhere) - case.findings["present"]


def labels_statements(case: EvaluationCase) -> bool:
    """Whether the case labels a finding in more than one class (each statement as said)."""
    labelled = [concept for bucket in BUCKETS for concept in case.findings[bucket]]
    return len(labelled) != len(set(labelled))


def _lead(summarizer: NoteSummarizer, case: EvaluationCase, count: int) -> str:
    """The baseline: the first `count` sentences of the newest note (headers and fragments out)."""
    newest = max(case.notes, key=lambda note: note.date or datetime.min)
    sentences = [
        s.text
        for s in summarizer.read(newest).sentences
        if not s.is_header and len(s.text.split()) > 3
    ]
    return " ".join(sentences[:count])


def evaluate(
    summarizer: NoteSummarizer,
    cases: Sequence[EvaluationCase],
    summaries: Sequence[NoteSummary] | None = None,
) -> dict[str, Any]:
    """The figures for one summarizer over every case (from `summaries` if already made)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    system: dict[str, list[float]] = {name: [] for name in ROUGE_TYPES}
    lead: dict[str, list[float]] = {name: [] for name in ROUGE_TYPES}
    verbatim_failures: list[str] = []
    false_present_cases: dict[str, list[str]] = {}
    included = total_phrases = 0
    excerpts = template_excerpts = references = references_chosen = 0
    agreement = {bucket: [0, 0, 0] for bucket in BUCKETS}  # true positive, found, expected
    if summaries is None:
        summaries = [summarizer.summarize(case.notes) for case in cases]
    for case, summary in zip(cases, summaries, strict=True):
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
        excerpts += len(summary.excerpts)
        template_excerpts += len(uninformative_chosen(summary, case))
        references += len(case.reference)
        references_chosen += reference_chosen(summary, case)
        total_phrases += len(case.must_include)
        included += sum(1 for phrase in case.must_include if phrase in chosen)
        # A case that labels a finding in two classes labels statements (the reading); one
        # that labels each finding once labels what the card lists (its deciding statement).
        listed = summary.mentions if labels_statements(case) else summary.problems
        for bucket in BUCKETS:
            found, expected = set(getattr(listed, bucket)), case.findings[bucket]
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
        "informativeness": {
            "excerpts": excerpts,
            "labelled_uninformative": sum(len(case.uninformative) for case in cases),
            "uninformative_excerpts": template_excerpts,
            "uninformative_share": template_excerpts / excerpts if excerpts else 0.0,
            "reference_excerpts": references,
            "reference_chosen": references_chosen,
            "reference_chosen_share": references_chosen / references if references else 0.0,
        },
        "findings": {
            bucket: {
                "precision": tp / found if found else 1.0,
                "recall": tp / expected if expected else 1.0,
                "true_positive": tp,
                "found": found,
                "expected": expected,
            }
            for bucket, (tp, found, expected) in agreement.items()
        },
    }
