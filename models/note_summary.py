"""An extractive summary of a patient's recent notes: the sentences that matter, quoted.

Every excerpt is a sentence of a note, sliced from the note's own text, with the note's id,
date and title: nothing is paraphrased, so nothing can be invented or flipped. Sentences are
scored by how central they are among all the candidate sentences (cosine similarity of their
vectors, as LexRank does) weighted by a prior for their section (an assessment says more than
a signature), with a small preference for newer notes; maximal marginal relevance then keeps
the excerpts diverse. A sentence copied forward from note to note is kept once, from the
newest, and so is one a newer note repeats with additions (a list grown by an item); boilerplate
(`models/note_boilerplate.py`: coded procedure lists, attestations, demographics, template
lines) is never a candidate, and is not embedded.

Findings are listed by how the notes assert them, each concept once: the statement from the
newest note decides; within a note the most certain (present, denied, past) beats a doubt or a
hypothetical ("possible hypertension" in the history does not undo "Hypertension" in the
assessment), then the section that weighs more; a relative's finding never overrides the
patient's own. Only `present` ones are problems, and each says which note decided it.
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from fhir_adapters.patient_record import ClinicalNote
from models.note_analysis import Assertion, ClinicalReader, Finding, NoteAnalysis
from models.note_boilerplate import boilerplate_kind, normalised_line, template_lines
from models.sentence_vectors import SentenceVectors

MAX_EXCERPTS = 6
MIN_WORDS = 4
MMR_LAMBDA = 0.7
# Cosine similarity at which a candidate is a near-copy of an excerpt already chosen.
NEAR_COPY_SIMILARITY = 0.9
RECENCY_WEIGHT = 0.1
# Read at most this many sentences of a note: long discharge summaries would swamp the rest.
MAX_SENTENCES_PER_NOTE = 80
ANALYSIS_CACHE_SIZE = 2_000
# An older sentence this long whose words a newer note's sentence (same section) all holds
# is a copy of it with additions (see `_edited_copy`); shorter ones are left to exact matching.
EDITED_COPY_MIN_WORDS = 8
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
# Where each assertion is listed: a doubt and a hypothetical are both "to watch for".
BUCKETS = {
    Assertion.PRESENT: "present",
    Assertion.NEGATED: "denied",
    Assertion.POSSIBLE: "possible",
    Assertion.HYPOTHETICAL: "possible",
    Assertion.HISTORICAL: "historical",
    Assertion.FAMILY: "family",
}
BUCKET_ORDER = ("present", "denied", "possible", "historical", "family")
# Within one note: a statement of fact beats a doubt or a "return if"; among facts in sections
# of equal weight, present is listed (hiding a problem costs more than repeating one).
ASSERTION_PRECEDENCE = (
    Assertion.PRESENT,
    Assertion.HISTORICAL,
    Assertion.NEGATED,
    Assertion.POSSIBLE,
    Assertion.HYPOTHETICAL,
    Assertion.FAMILY,  # decided apart: it competes only with other relatives' statements
)
UNCERTAIN = frozenset({Assertion.POSSIBLE, Assertion.HYPOTHETICAL})


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
class ProblemSource:
    """The statement that decided how a concept is listed: its note and section."""

    concept: str
    bucket: str  # "present", "denied", "possible", "historical" or "family"
    note_title: str
    note_date: date | None
    source: str
    section: str
    # The date of the oldest note that names the concept: a problem first named at the latest
    # visit is a recent change.
    first_noted: date | None = None


@dataclass(frozen=True)
class ProblemMentions:
    """Findings by how the notes assert them, each concept once, most recently decided first."""

    present: tuple[str, ...]
    denied: tuple[str, ...]
    possible: tuple[str, ...]
    historical: tuple[str, ...]
    family: tuple[str, ...]
    # One per concept listed above, in the same order as the buckets list them.
    sources: tuple[ProblemSource, ...] = ()

    def source_of(self, concept: str) -> ProblemSource | None:
        """Where the concept's deciding statement is, if known."""
        return next((s for s in self.sources if s.concept == concept), None)


NO_MENTIONS = ProblemMentions((), (), (), (), ())


@dataclass(frozen=True)
class NoteSummary:
    """What the recent notes say, in their own words."""

    note_count: int
    since: date | None
    excerpts: tuple[Excerpt, ...]
    # Each concept once, as its deciding statement says (what the card lists).
    problems: ProblemMentions
    method: str
    # Every statement by its own assertion, a concept in as many lists as it is said in: the
    # reading itself, as an evaluation of the reading needs it.
    mentions: ProblemMentions = NO_MENTIONS
    # The newest note's date: with `since`, what a recent change is measured against.
    latest: date | None = None
    # Notes too long to read whole: only their first part was read (`MAX_NOTE_CHARACTERS`).
    partly_read: int = 0


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
            mentions=_mentions(analyses),
            latest=max(dates) if dates else None,
            partly_read=sum(1 for analysis in analyses if analysis.unread_characters),
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
            # A near-copy of an excerpt (a list copied forward with one item changed) would
            # repeat it; MMR's penalty alone lets it through when little else scores.
            remaining -= {i for i in remaining if similarity[i, best] >= NEAR_COPY_SIMILARITY}
        # Shown by section weight, then newest note first, then in the note's order.
        return sorted(
            chosen,
            key=lambda i: (-candidates[i].prior, -candidates[i].recency, candidates[i].index),
        )


def _candidates(analyses: Sequence[NoteAnalysis]) -> list[_Candidate]:
    seen: set[str] = set()
    newer: dict[str, list[tuple[int, frozenset[str]]]] = {}
    result = []
    templates = template_lines(
        [[s.text for s in a.sentences[:MAX_SENTENCES_PER_NOTE]] for a in analyses]
    )
    for rank, analysis in enumerate(analyses):
        recency = 1.0 - rank / max(len(analyses), 1)
        with_findings = {finding.sentence for finding in analysis.findings}
        for index, sentence in enumerate(analysis.sentences[:MAX_SENTENCES_PER_NOTE]):
            prior = SECTION_PRIORS.get(sentence.section, SECTION_PRIORS["other"])
            words = sentence.text.split()
            # A header alone ("ASSESSMENT AND PLAN:") or a fragment says nothing by itself.
            if prior == 0.0 or len(words) < MIN_WORDS or sentence.is_header:
                continue
            # Copy-forward: the same words in an older note are the same sentence.
            key = normalised_line(sentence.text)
            if key in seen:
                continue
            seen.add(key)
            if boilerplate_kind(sentence.text, index in with_findings, key in templates):
                continue
            if _edited_copy(key, sentence.section, rank, newer):
                continue
            newer.setdefault(sentence.section, []).append((rank, frozenset(key.split())))
            result.append(_Candidate(analysis, index, prior, recency))
    return result


def _edited_copy(
    key: str, section: str, rank: int, newer: dict[str, list[tuple[int, frozenset[str]]]]
) -> bool:
    """An older note's sentence all of whose words a newer note's sentence repeats, and more.

    Copy-forward with additions: a problem list that grew by an item says all the older one
    did. Any word the newer sentence dropped keeps the older: a changed number is a trend
    ("HbA1c 7.8" then "7.2", a dose raised), "start" become "continue" dates a change.
    Compared within a section only, which is where copy-forward keeps a sentence (and keeps
    the comparison cheap on a long chart).
    """
    words = frozenset(key.split())
    if len(words) < EDITED_COPY_MIN_WORDS:
        return False
    return any(newer_rank < rank and words <= other for newer_rank, other in newer.get(section, ()))


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


def _mentions(analyses: Sequence[NoteAnalysis]) -> ProblemMentions:
    """Every statement by its assertion, most mentioned first."""
    counts: dict[str, Counter[str]] = {bucket: Counter() for bucket in BUCKET_ORDER}
    for analysis in analyses:
        for finding in analysis.findings:
            counts[BUCKETS[finding.assertion]][finding.concept] += 1

    def ranked(bucket: str) -> tuple[str, ...]:
        return tuple(concept for concept, _ in counts[bucket].most_common())

    return ProblemMentions(
        present=ranked("present"),
        denied=ranked("denied"),
        possible=ranked("possible"),
        historical=ranked("historical"),
        family=ranked("family"),
    )


def _statement_rank(finding: Finding) -> tuple[int, float, int]:
    """Within one note, lower is more decisive: certain, then weightier section, then kind."""
    return (
        int(finding.assertion in UNCERTAIN),
        -SECTION_PRIORS.get(finding.section, SECTION_PRIORS["other"]),
        ASSERTION_PRECEDENCE.index(finding.assertion),
    )


def _problems(analyses: Sequence[NoteAnalysis]) -> ProblemMentions:
    """Each concept once, decided by its newest, most certain statement (see the module)."""
    # Notes of the same date are one visit's: none is newer than another.
    days = sorted({a.note.date.date() for a in analyses if a.note.date is not None}, reverse=True)
    mentions: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    first_noted: dict[str, date] = {}
    own: dict[str, tuple[tuple[int, int, float, int], NoteAnalysis, Finding]] = {}
    family: dict[str, tuple[tuple[int, int, float, int], NoteAnalysis, Finding]] = {}
    for analysis in analyses:
        when = analysis.note.date
        age = days.index(when.date()) if when is not None else len(days)
        for finding in analysis.findings:
            mentions[finding.concept] += 1
            first_seen.setdefault(finding.concept, len(first_seen))
            if when is not None:
                # Newest first: the last date seen for a concept is its oldest.
                first_noted[finding.concept] = when.date()
            decided = family if finding.assertion == Assertion.FAMILY else own
            key = (age, *_statement_rank(finding))
            if finding.concept not in decided or key < decided[finding.concept][0]:
                decided[finding.concept] = (key, analysis, finding)
    # A relative's diabetes says nothing against the patient's own statement about diabetes.
    deciding = own | {c: v for c, v in family.items() if c not in own}
    order = sorted(deciding, key=lambda c: (deciding[c][0][0], -mentions[c], first_seen[c]))
    sources = []
    for concept in order:
        _, analysis, finding = deciding[concept]
        note = analysis.note
        sources.append(
            ProblemSource(
                concept=concept,
                bucket=BUCKETS[finding.assertion],
                note_title=note.title,
                note_date=None if note.date is None else note.date.date(),
                source=note.source,
                section=finding.section,
                first_noted=first_noted.get(concept),
            )
        )

    def listed(bucket: str) -> tuple[str, ...]:
        return tuple(s.concept for s in sources if s.bucket == bucket)

    return ProblemMentions(
        present=listed("present"),
        denied=listed("denied"),
        possible=listed("possible"),
        historical=listed("historical"),
        family=listed("family"),
        sources=tuple(s for bucket in BUCKET_ORDER for s in sources if s.bucket == bucket),
    )
