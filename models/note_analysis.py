"""A clinical note read for the summary: sentences as exact spans, sections, asserted findings.

Everything shown from a note is a slice of its own text (`Sentence.text == note.text[start:end]`),
so the summary can never say what the note does not. The NLP runs on a same-length copy in
which a few layouts that defeat it are undone ("1.No fever" is read as "1 No fever"; a literal
"\\n" as a line break), so every offset found in the copy is an offset in the original.

medspacy (1.3.1) does the reading: PyRuSH sentences, its sectionizer with the headers its
defaults miss (ASSESSMENT AND PLAN, IMPRESSION, SOAP S:/O:/A:/P:), the findings' phrases
(`models.note_vocabulary`), and ConText for negation, possibility, hypotheticals, history and
family with this project's triggers (`models.note_context_rules`). A negation header over a
list ("Negative for:" then one finding a line) is carried over its items afterwards
(`models.note_negation_lists`), since the items are sentences of their own. Loaded once per
process (`ClinicalReader.load`).
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fhir_adapters.patient_record import ClinicalNote
from models.note_context_rules import context_rules
from models.note_negation_lists import denied_list_items
from models.note_vocabulary import (
    PROBLEM,
    abbreviation_is_safe,
    concept_of,
    names_a_procedure,
    target_rules,
)

OTHER_SECTION = "other"
# Headers medspacy's 140 default rules miss; (category, literal).
EXTRA_SECTION_HEADERS = (
    ("assessment_and_plan", "ASSESSMENT AND PLAN"),
    ("assessment_and_plan", "Assessment and Plan"),
    ("assessment_and_plan", "A/P"),
    ("impression", "IMPRESSION"),
    ("impression", "Impression"),
    ("findings", "FINDINGS"),
    ("findings", "Findings"),
    ("subjective", "S:"),
    ("objective", "O:"),
    ("assessment", "A:"),
    ("plan", "P:"),
)
# Common words that are headers only at the start of a line ("Plan:", not "the plan was").
LINE_START_SECTION_HEADERS = (
    ("plan", "Plan:"),
    ("plan", "PLAN:"),
    ("assessment", "Assessment:"),
    ("assessment", "ASSESSMENT:"),
    ("review_of_systems", "Review of Systems:"),
    ("review_of_systems", "Review of systems:"),
    ("review_of_systems", "ROS:"),
    # Short headers that end the section before them (else "FAMILY HISTORY:" runs on through
    # the exam, and everything in it would read as a relative's).
    ("medications", "Meds:"),
    ("medications", "MEDS:"),
    ("physical_exam", "Exam:"),
    ("physical_exam", "EXAM:"),
    ("physical_exam", "Vitals:"),
    ("physical_exam", "VITALS:"),
    ("labs_and_studies", "Labs:"),
    ("labs_and_studies", "LABS:"),
    ("labs_and_studies", "Data:"),
    ("labs_and_studies", "DATA:"),
    ("labs_and_studies", "Results:"),
    ("labs_and_studies", "RESULTS:"),
    ("history_of_present_illness", "HPI:"),
    # The story since the last visit: present, where the defaults' "history" reads it as past.
    ("history_of_present_illness", "Interval history:"),
    ("history_of_present_illness", "Interval History:"),
    ("history_of_present_illness", "INTERVAL HISTORY:"),
    ("chief_complaint", "CC:"),
    ("past_medical_history", "PMH:"),
)
# "Lungs: No consolidation" -> "Lungs. No consolidation": ConText's ": no" reads backwards
# (as in "Fever: no"), so a "No" that opens a finding after a label is given its own sentence.
_LABEL_THEN_NO = re.compile(r":(?=[ \t]+[Nn][Oo][ \t]+\w)")
# "1.No fever" -> "1 No fever": a list number glued to the next word hides a negation trigger.
_GLUED_LIST_NUMBER = re.compile(r"(?m)(?:^|(?<=\s))(\d{1,2})\.(?=[A-Za-z])")
# "## Plan" -> "  Plan:": a Markdown header becomes the kind of header the sectionizer knows.
_MARKDOWN_HEADER = re.compile(r"(?m)^(#{1,6}) (\S[^\n]*?)[ \t]*$")
# A line break ends a sentence unless it can be a hard wrap: before a list item or header,
# after terminal punctuation, or around a blank line.
_NEXT_LINE_STARTS_ITEM = re.compile(r"\s*(?:[-*\u2022#]|\d{1,2}[.)])")
_LITERAL_NEWLINE = "\\n"
LINE_BREAKS_COMPONENT = "cdss_line_breaks"


class Assertion(StrEnum):
    """How a note asserts a finding; only `PRESENT` is the patient's present problem."""

    PRESENT = "present"
    NEGATED = "negated"
    POSSIBLE = "possible"
    HYPOTHETICAL = "hypothetical"
    HISTORICAL = "historical"
    FAMILY = "family"


@dataclass(frozen=True)
class Sentence:
    """One sentence of a note, as an exact span of its text, with its section."""

    start: int
    end: int
    text: str
    section: str
    # A section header on its own ("ASSESSMENT AND PLAN:", "## Plan"): never an excerpt.
    is_header: bool = False


@dataclass(frozen=True)
class Finding:
    """A finding mentioned in a note, how it is asserted, and where."""

    concept: str
    text: str
    assertion: Assertion
    section: str
    sentence: int  # index into `NoteAnalysis.sentences`


@dataclass(frozen=True)
class NoteAnalysis:
    """A note's sentences and findings."""

    note: ClinicalNote
    sentences: tuple[Sentence, ...]
    findings: tuple[Finding, ...]


def reading_copy(text: str) -> str:
    """The text the NLP reads: the same length, with layouts that defeat it undone."""
    copy = text.replace(_LITERAL_NEWLINE, " \n")
    copy = _MARKDOWN_HEADER.sub(lambda m: " " * len(m.group(1)) + m.group(2) + ":", copy)
    copy = _LABEL_THEN_NO.sub(".", copy)
    return _GLUED_LIST_NUMBER.sub(lambda m: f"{m.group(1)} ", copy)


def line_breaks(copy: str) -> list[int]:
    """Offsets of the line breaks that end a sentence (see `_NEXT_LINE_STARTS_ITEM`)."""
    breaks = []
    lines = copy.split("\n")
    offset = 0
    for current, following in itertools.pairwise(lines):
        offset += len(current) + 1
        ends = current.rstrip()
        if (
            not ends
            or not following.strip()
            or ends[-1] in ".:;!?"
            or _NEXT_LINE_STARTS_ITEM.match(following)
        ):
            breaks.append(offset - 1)
    return breaks


def _assertion(entity: Any) -> Assertion:
    # Family first: "mother has no diabetes" is still not the patient's.
    if entity._.is_family:
        return Assertion.FAMILY
    if entity._.is_negated:
        return Assertion.NEGATED
    if entity._.is_hypothetical:
        return Assertion.HYPOTHETICAL
    if entity._.is_uncertain:
        return Assertion.POSSIBLE
    if entity._.is_historical:
        return Assertion.HISTORICAL
    return Assertion.PRESENT


class ClinicalReader:
    """medspacy's pipeline with this project's sections and findings; build it once."""

    def __init__(self, pipeline: Any) -> None:
        self._nlp = pipeline

    @classmethod
    def load(cls) -> ClinicalReader:
        """Build the pipeline (a few seconds; nothing is downloaded)."""
        from loguru import logger

        # PyRuSH logs every token at DEBUG through loguru: note text must not reach a log.
        logger.disable("PyRuSH")
        import medspacy
        from medspacy.context import ConTextRule
        from medspacy.section_detection import SectionRule
        from spacy.language import Language

        if not Language.has_factory(LINE_BREAKS_COMPONENT):
            Language.component(LINE_BREAKS_COMPONENT, func=_sentences_end_at_line_breaks)

        nlp = medspacy.load(
            medspacy_enable=[
                "medspacy_pyrush",
                "medspacy_target_matcher",
                "medspacy_context",
                "medspacy_sectionizer",
            ]
        )
        # After PyRuSH, before ConText: a modifier must not reach across a list's lines.
        nlp.add_pipe(LINE_BREAKS_COMPONENT, after="medspacy_pyrush")
        nlp.get_pipe("medspacy_sectionizer").add(
            [SectionRule(category=c, literal=literal) for c, literal in EXTRA_SECTION_HEADERS]
            + [
                SectionRule(
                    category=c, literal=literal, pattern=rf"(?m)^[ \t]*{re.escape(literal)}"
                )
                for c, literal in LINE_START_SECTION_HEADERS
            ]
        )
        # ConText rebuilt with this project's rules in place of the defaults that misread
        # (see models/note_context_rules.py).
        nlp.remove_pipe("medspacy_context")
        context = nlp.add_pipe(
            "medspacy_context", config={"rules": None}, after="medspacy_target_matcher"
        )
        context.add(context_rules(ConTextRule.from_json(context.DEFAULT_RULES_FILEPATH)))
        nlp.get_pipe("medspacy_target_matcher").add(target_rules(nlp.tokenizer))
        return cls(nlp)

    def read(self, note: ClinicalNote) -> NoteAnalysis:
        """The note's sentences (exact spans) and its asserted findings."""
        copy = reading_copy(note.text)
        doc = self._nlp(copy)
        sentences: list[Sentence] = []
        starts: list[int] = []
        for span in doc.sents:
            start, end = span.start_char, span.end_char
            # Leading and trailing white space (as the NLP read it) is not part of a sentence.
            while start < end and (copy[start].isspace() or note.text[start].isspace()):
                start += 1
            while end > start and (copy[end - 1].isspace() or note.text[end - 1].isspace()):
                end -= 1
            if start == end:
                continue
            section = _section_of(doc, span.start) or OTHER_SECTION
            header = copy[start:end].endswith(":") and "\n" not in copy[start:end]
            sentences.append(Sentence(start, end, note.text[start:end], section, header))
            starts.append(start)
        problems = [
            entity
            for entity in doc.ents
            if entity.label_ == PROBLEM
            and abbreviation_is_safe(copy, entity.start_char, entity.end_char)
            and not names_a_procedure(copy, entity.end_char)
        ]
        # A header such as "Negative for:" over a list denies the items ConText cannot reach.
        denied = denied_list_items(copy, [(e.start_char, e.end_char) for e in problems])
        findings = []
        for entity in problems:
            index = max(i for i, s in enumerate(starts) if s <= entity.start_char) if starts else 0
            assertion = _assertion(entity)
            if assertion is Assertion.PRESENT and any(
                start <= entity.start_char < end for start, end in denied
            ):
                assertion = Assertion.NEGATED
            findings.append(
                Finding(
                    concept=concept_of(entity.text),
                    text=note.text[entity.start_char : entity.end_char],
                    assertion=assertion,
                    section=entity._.section_category or OTHER_SECTION,
                    sentence=index,
                )
            )
        return NoteAnalysis(note, tuple(sentences), tuple(findings))


def _sentences_end_at_line_breaks(doc: Any) -> Any:
    """spaCy component: the first token after a sentence-ending line break starts a sentence."""
    starts = [token.idx for token in doc]
    for offset in line_breaks(doc.text):
        index = bisect.bisect_right(starts, offset)
        if 0 < index < len(doc):
            doc[index].is_sent_start = True
    return doc


def _section_of(doc: Any, token_index: int) -> str | None:
    category: str | None = doc[token_index]._.section_category
    return category
