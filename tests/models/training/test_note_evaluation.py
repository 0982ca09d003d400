"""The note sets' faithfulness checks: hard on the development set, bounded on the held-out set."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from models.note_analysis import ClinicalReader
from models.note_summary import NoteSummarizer, NoteSummary
from models.sentence_vectors import MINILM, TFIDF, MiniLmVectors, SentenceVectors, TfidfVectors
from models.training.note_evaluation import (
    BUCKETS,
    EvaluationCase,
    evaluate,
    false_present,
    file_digest,
    load_cases,
    not_verbatim,
    recorded_digest,
    reference_chosen,
    uninformative_chosen,
)

NOTE_SETS = Path(__file__).resolve().parents[2] / "data" / "note_eval"
DEVELOPMENT = NOTE_SETS / "cases.json"
HELD_OUT = NOTE_SETS / "heldout.json"
HELD_OUT_DIGEST = NOTE_SETS / "heldout.sha256"
# Held-out cases that list a denied, possible, past or family finding as present, allowed until
# the reading improves without tuning on them; the remaining failures are listed by case in
# docs/note-summary.md ("Held-out set"). Lower it as they are fixed; never raise it quietly.
HELD_OUT_FALSE_PRESENT_CEILING = 11


@dataclasses.dataclass(frozen=True)
class SetRun:
    """One summarizer over one note set: the cases, their summaries and the report."""

    cases: list[EvaluationCase]
    summaries: list[NoteSummary]
    report: dict[str, Any]


@pytest.fixture(scope="module")
def reader() -> ClinicalReader:
    return ClinicalReader.load()


@pytest.fixture(scope="module", params=[TFIDF, MINILM])
def summarizer(request: pytest.FixtureRequest, reader: ClinicalReader) -> NoteSummarizer:
    vectors: SentenceVectors = TfidfVectors() if request.param == TFIDF else MiniLmVectors.load()
    return NoteSummarizer(reader, vectors)


def _run(summarizer: NoteSummarizer, path: Path) -> SetRun:
    """Summarise each case once; the report reuses those summaries (the suite stays fast)."""
    cases = load_cases(path)
    summaries = [summarizer.summarize(case.notes) for case in cases]
    return SetRun(cases, summaries, evaluate(summarizer, cases, summaries))


@pytest.fixture(scope="module")
def development(summarizer: NoteSummarizer) -> SetRun:
    return _run(summarizer, DEVELOPMENT)


@pytest.fixture(scope="module")
def held_out(summarizer: NoteSummarizer) -> SetRun:
    return _run(summarizer, HELD_OUT)


def test_the_held_out_set_is_the_frozen_one() -> None:
    assert file_digest(HELD_OUT) == recorded_digest(HELD_OUT_DIGEST), (
        "heldout.json changed: a held-out case that informs a rule moves to the development set"
    )


def test_the_development_set_is_large_and_varied() -> None:
    cases = load_cases(DEVELOPMENT)
    assert len(cases) >= 30
    assert {case.kind for case in cases} == {
        "progress note",
        "history and physical",
        "discharge summary",
        "radiology report",
        "telehealth visit",
    }


def test_the_held_out_set_is_large_and_varied() -> None:
    cases = load_cases(HELD_OUT)
    assert len(cases) >= 40
    assert sum(len(case.notes) for case in cases) >= 44
    assert {case.kind for case in cases} >= {
        "progress note",
        "history and physical",
        "discharge summary",
        "radiology report",
        "telehealth visit",
        "ED note",
    }
    assert not {case.case_id for case in cases} & {c.case_id for c in load_cases(DEVELOPMENT)}


@pytest.mark.parametrize("path", [DEVELOPMENT, HELD_OUT], ids=["development", "held-out"])
def test_labelled_sentences_are_verbatim_in_their_notes(path: Path) -> None:
    for case in load_cases(path):
        text = "\n".join(note.text for note in case.notes)
        for sentence in case.reference + case.uninformative:
            assert sentence in text, case.case_id


def test_each_held_out_finding_has_one_class_by_its_latest_statement() -> None:
    for case in load_cases(HELD_OUT):
        own = [c for bucket in BUCKETS if bucket != "family" for c in case.findings[bucket]]
        assert len(own) == len(set(own)), case.case_id


def test_every_excerpt_is_verbatim_in_both_sets(development: SetRun, held_out: SetRun) -> None:
    for run in (development, held_out):
        for case, summary in zip(run.cases, run.summaries, strict=True):
            assert not_verbatim(summary, case) == [], case.case_id


def test_nothing_denied_possible_past_or_familial_is_a_present_problem(
    development: SetRun,
) -> None:
    failures = {
        case.case_id: false_present(summary, case)
        for case, summary in zip(development.cases, development.summaries, strict=True)
    }
    assert {k: v for k, v in failures.items() if v} == {}


def test_held_out_false_present_cases_stay_within_the_listed_failures(held_out: SetRun) -> None:
    assert len(held_out.report["false_present"]) <= HELD_OUT_FALSE_PRESENT_CEILING


def test_the_report_agrees_with_these_checks(development: SetRun, held_out: SetRun) -> None:
    assert development.report["not_verbatim"] == []
    assert development.report["false_present"] == {}
    assert held_out.report["not_verbatim"] == []
    for run in (development, held_out):
        assert 0.0 < run.report["rouge"]["rougeL"] <= 1.0
        for counts in run.report["findings"].values():
            assert counts["true_positive"] <= min(counts["found"], counts["expected"])
    assert development.report["findings"]["present"]["precision"] == 1.0


def test_a_template_sentence_chosen_as_an_excerpt_is_counted(held_out: SetRun) -> None:
    case, summary = next(
        (c, s) for c, s in zip(held_out.cases, held_out.summaries, strict=True) if c.uninformative
    )
    note = next(n for n in case.notes if case.uninformative[0] in n.text)
    start = note.text.index(case.uninformative[0])
    template = dataclasses.replace(
        summary.excerpts[0],
        text=case.uninformative[0],
        source=note.source,
        start=start,
        end=start + len(case.uninformative[0]),
    )
    with_template = dataclasses.replace(summary, excerpts=(template,))
    assert uninformative_chosen(with_template, case) == [case.uninformative[0]]
    assert reference_chosen(with_template, case) == 0
    informativeness = held_out.report["informativeness"]
    assert informativeness["excerpts"] == sum(len(s.excerpts) for s in held_out.summaries)
    assert 0 <= informativeness["uninformative_excerpts"] <= informativeness["excerpts"]
