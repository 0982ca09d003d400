"""The evaluation set's faithfulness checks, which must hold for every case and both methods."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.note_analysis import ClinicalReader
from models.note_summary import NoteSummarizer
from models.sentence_vectors import MINILM, TFIDF, MiniLmVectors, SentenceVectors, TfidfVectors
from models.training.note_evaluation import (
    EvaluationCase,
    evaluate,
    false_present,
    load_cases,
    not_verbatim,
)

CASES = Path(__file__).resolve().parents[2] / "data" / "note_eval" / "cases.json"


@pytest.fixture(scope="module")
def cases() -> list[EvaluationCase]:
    return load_cases(CASES)


@pytest.fixture(scope="module", params=[TFIDF, MINILM])
def summarizer(request: pytest.FixtureRequest) -> NoteSummarizer:
    vectors: SentenceVectors = TfidfVectors() if request.param == TFIDF else MiniLmVectors.load()
    return NoteSummarizer(ClinicalReader.load(), vectors)


def test_the_set_is_large_and_varied(cases: list[EvaluationCase]) -> None:
    assert len(cases) >= 30
    assert {case.kind for case in cases} == {
        "progress note",
        "history and physical",
        "discharge summary",
        "radiology report",
        "telehealth visit",
    }


def test_every_excerpt_is_verbatim(summarizer: NoteSummarizer, cases: list[EvaluationCase]) -> None:
    for case in cases:
        assert not_verbatim(summarizer.summarize(case.notes), case) == [], case.case_id


def test_nothing_denied_possible_past_or_familial_is_a_present_problem(
    summarizer: NoteSummarizer, cases: list[EvaluationCase]
) -> None:
    failures = {
        case.case_id: false_present(summarizer.summarize(case.notes), case) for case in cases
    }
    assert {k: v for k, v in failures.items() if v} == {}


def test_the_report_agrees_with_these_checks(
    summarizer: NoteSummarizer, cases: list[EvaluationCase]
) -> None:
    report = evaluate(summarizer, cases)
    assert report["not_verbatim"] == []
    assert report["false_present"] == {}
    assert 0.0 < report["rouge"]["rougeL"] <= 1.0
    assert report["findings"]["present"]["precision"] == 1.0
