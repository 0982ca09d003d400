"""An extractive summary of a patient's recent notes: the sentences that matter, quoted.

Every excerpt is a sentence of a note, sliced from the note's own text, with the note's id,
date and title: nothing is paraphrased, so nothing can be invented or flipped. Sentences are
scored by how central they are among all the candidate sentences (cosine similarity of their
vectors, as LexRank does) weighted by a prior for their section (an assessment says more than
a signature), with a small preference for newer notes; maximal marginal relevance then keeps
the excerpts diverse. A sentence copied forward from note to note is kept once, from the
newest. Findings are listed by how the notes assert them: only `present` ones are problems.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from fhir_adapters.patient_record import ClinicalNote
from models.note_analysis import Assertion, ClinicalReader, NoteAnalysis
from models.sentence_vectors import SentenceVectors

MAX_EXCERPTS = 6
MIN_WORDS = 4
MMR_LAMBDA = 0.7
RECENCY_WEIGHT = 0.1
# Read at most this many sentences of a note: long discharge summaries would swamp the rest.
MAX_SENTENCES_PER_NOTE = 80
ANALYSIS_CACHE_SIZE = 2_000
SECTION_PRIORS = {
    "assessment_and_plan": 1.0,
    "assessment": 1.0,
    "impression": 1.0,
    "observation_and_plan": 0.95,
    "diagnoses": 0.9,
    "problem_list": 0.9,
    "hospital_course": 0.85,
    "plan": 0.8,
    "history_of_present_illness": 0.75,
    "findings": 0.75,
    "chief_complaint": 0.7,
    "imaging": 0.6,
    "addendum": 0.6,
    "subjective": 0.6,
    "labs_and_studies": 0.55,
    "reason_for_examination": 0.5,
    "past_medical_history": 0.5,
    "other": 0.5,
    "objective": 0.45,
    "physical_exam": 0.4,
    "medications": 0.3,
    "patient_instructions": 0.3,
    "social_history": 0.3,
    "comments": 0.3,
    "family_history": 0.2,
    "allergies": 0.2,
    "allergy": 0.2,
    "patient_education": 0.2,
    "signature": 0.0,
}
_NORMALISE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Excerpt:
    """A sentence quoted from a note, with where it came from."""

    text: str
    source: str
    element: str
    note_date: date | None
    note_title: str
    section: str
    start: int
    end: int


@dataclass(frozen=True)
class ProblemMentions:
    """Findings by how the notes assert them, most mentioned first."""

    present: tuple[str, ...]
    denied: tuple[str, ...]
    possible: tuple[str, ...]
    historical: tuple[str, ...]
    family: tuple[str, ...]


@dataclass(frozen=True)
class NoteSummary:
    """What the recent notes say, in their own words."""

    note_count: int
    since: date | None
    excerpts: tuple[Excerpt, ...]
    problems: ProblemMentions
    method: str


@dataclass(frozen=True)
class _Candidate:
    analysis: NoteAnalysis
    index: int
    prior: float
    recency: float


def _note_key(note: ClinicalNote) -> bytes:
    return hashlib.sha256(f"{note.source}\x00{note.element}\x00{note.text}".encode()).digest()


class NoteSummarizer:
    """Summarises notes; reading is cached by note content, so a chart seen again is quick."""

    def __init__(self, reader: ClinicalReader, vectors: SentenceVectors) -> None:
        self._reader = reader
        self._vectors = vectors
        self._analyses: OrderedDict[bytes, NoteAnalysis] = OrderedDict()

    @property
    def method(self) -> str:
        """How excerpts are chosen (shown on the card)."""
        return self._vectors.method

    def read(self, note: ClinicalNote) -> NoteAnalysis:
        """The note read (sentences, sections, findings), from the cache when seen before."""
        key = _note_key(note)
        cached = self._analyses.get(key)
        if cached is None:
            cached = self._analyses[key] = self._reader.read(note)
            while len(self._analyses) > ANALYSIS_CACHE_SIZE:
                self._analyses.popitem(last=False)
        self._analyses.move_to_end(key)
        return cached

    def summarize(self, notes: Sequence[ClinicalNote]) -> NoteSummary:
        """The summary of these notes (any order; newest are preferred)."""
        ordered = sorted(notes, key=lambda n: (n.date is not None, n.date), reverse=True)
        analyses = [self.read(note) for note in ordered if note.text.strip()]
        candidates = _candidates(analyses)
        chosen = self._choose(candidates)
        excerpts = tuple(_excerpt(candidates[i]) for i in chosen)
        dates = [n.date.date() for n in ordered if n.date is not None]
        return NoteSummary(
            note_count=len(analyses),
            since=min(dates) if dates else None,
            excerpts=excerpts,
            problems=_problems(analyses),
            method=self._vectors.method,
        )

    def _choose(self, candidates: list[_Candidate]) -> list[int]:
        if not candidates:
            return []
        texts = [c.analysis.sentences[c.index].text for c in candidates]
        vectors = self._vectors.vectors(texts)
        similarity = vectors @ vectors.T
        n = len(candidates)
        centrality = (similarity.sum(axis=1) - 1.0) / max(n - 1, 1)
        score = np.array(
            [centrality[i] * c.prior + RECENCY_WEIGHT * c.recency for i, c in enumerate(candidates)]
        )
        chosen: list[int] = []
        remaining = set(range(n))
        while remaining and len(chosen) < MAX_EXCERPTS:

            def marginal(i: int) -> float:
                redundancy = max((similarity[i, j] for j in chosen), default=0.0)
                return float(MMR_LAMBDA * score[i] - (1 - MMR_LAMBDA) * redundancy)

            best = max(sorted(remaining), key=marginal)
            chosen.append(best)
            remaining.discard(best)
        # Shown by section weight, then newest note first, then in the note's order.
        return sorted(
            chosen,
            key=lambda i: (-candidates[i].prior, -candidates[i].recency, candidates[i].index),
        )


def _candidates(analyses: Sequence[NoteAnalysis]) -> list[_Candidate]:
    seen: set[str] = set()
    result = []
    for rank, analysis in enumerate(analyses):
        recency = 1.0 - rank / max(len(analyses), 1)
        for index, sentence in enumerate(analysis.sentences[:MAX_SENTENCES_PER_NOTE]):
            prior = SECTION_PRIORS.get(sentence.section, SECTION_PRIORS["other"])
            words = sentence.text.split()
            # A header alone ("ASSESSMENT AND PLAN:") or a fragment says nothing by itself.
            if prior == 0.0 or len(words) < MIN_WORDS or sentence.is_header:
                continue
            # Copy-forward: the same words in an older note are the same sentence.
            key = _NORMALISE.sub(" ", sentence.text.lower()).strip()
            if key in seen:
                continue
            seen.add(key)
            result.append(_Candidate(analysis, index, prior, recency))
    return result


def _excerpt(candidate: _Candidate) -> Excerpt:
    note, sentence = candidate.analysis.note, candidate.analysis.sentences[candidate.index]
    return Excerpt(
        text=sentence.text,
        source=note.source,
        element=note.element,
        note_date=None if note.date is None else note.date.date(),
        note_title=note.title,
        section=sentence.section,
        start=sentence.start,
        end=sentence.end,
    )


def _problems(analyses: Sequence[NoteAnalysis]) -> ProblemMentions:
    counts: dict[Assertion, Counter[str]] = {assertion: Counter() for assertion in Assertion}
    for analysis in analyses:
        for finding in analysis.findings:
            counts[finding.assertion][finding.concept] += 1

    def ranked(*assertions: Assertion) -> tuple[str, ...]:
        total: Counter[str] = Counter()
        for assertion in assertions:
            total.update(counts[assertion])
        return tuple(concept for concept, _ in total.most_common())

    return ProblemMentions(
        present=ranked(Assertion.PRESENT),
        denied=ranked(Assertion.NEGATED),
        possible=ranked(Assertion.POSSIBLE, Assertion.HYPOTHETICAL),
        historical=ranked(Assertion.HISTORICAL),
        family=ranked(Assertion.FAMILY),
    )
