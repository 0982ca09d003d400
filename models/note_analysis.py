"""A clinical note read for the summary: sentences as exact spans, sections, asserted findings.

Everything shown from a note is a slice of its own text (`Sentence.text == note.text[start:end]`),
so the summary can never say what the note does not. The NLP runs on a same-length copy in
which a few layouts that defeat it are undone ("1.No fever" is read as "1 No fever"; a literal
"\\n" as a line break), so every offset found in the copy is an offset in the original.

medspacy (1.3.1) does the reading: this project's sentence splitter (`models.note_sentences`,
in place of PyRuSH, ~200x faster and silent), medspacy's sectionizer with the headers its
defaults miss (ASSESSMENT AND PLAN, IMPRESSION, SOAP S:/O:/A:/P:), the findings' phrases
(`models.note_vocabulary`), and ConText for negation, possibility, hypotheticals, history and
family with this project's triggers (`models.note_context_rules`). A negation header over a
list ("Negative for:" then one finding a line) is carried over its items afterwards
(`models.note_negation_lists`), since the items are sentences of their own, and a chronic
condition under "history of" is read as present (`models.note_chronic_conditions`). Loaded once
per process (`ClinicalReader.load`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fhir_adapters.patient_record import ClinicalNote
from models.note_chronic_conditions import current_chronic_conditions
from models.note_context_rules import context_rules
from models.note_negation_lists import denied_list_items
from models.note_sentences import SENTENCES_COMPONENT, trimmed
from models.note_sentences import register as register_sentences
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
_LITERAL_NEWLINE = "\\n"
# Read at most this much of one note (a line's end before it). Parts of medspacy cost time
# growing with the square of a note's length: 86 KB took 2 s, 800 KB (a pasted dump) 97 s, and
# one worker makes every summary of its process. The card says when a note was read in part.
MAX_NOTE_CHARACTERS = 50_000


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
    # Characters past `MAX_NOTE_CHARACTERS` left unread (0: the whole note was read).
    unread_characters: int = 0


def readable_part(text: str) -> str:
    """The part of a note the reader reads: all of it, or its lines up to `MAX_NOTE_CHARACTERS`."""
    if len(text) <= MAX_NOTE_CHARACTERS:
        return text
    cut = text.rfind("\n", 0, MAX_NOTE_CHARACTERS)
    return text[: cut if cut > 0 else MAX_NOTE_CHARACTERS]


def reading_copy(text: str) -> str:
    """The text the NLP reads: the same length, with layouts that defeat it undone."""
    copy = text.replace(_LITERAL_NEWLINE, " \n")
    copy = _MARKDOWN_HEADER.sub(lambda m: " " * len(m.group(1)) + m.group(2) + ":", copy)
    copy = _LABEL_THEN_NO.sub(".", copy)
    return _GLUED_LIST_NUMBER.sub(lambda m: f"{m.group(1)} ", copy)


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
        import medspacy
        from medspacy.context import ConTextRule
        from medspacy.section_detection import SectionRule

        register_sentences()
        # No PyRuSH: its sentences cost ~50 us a character (most of a chart's reading) and
        # its PyFastNER logged a line per sentence on the root logger.
        nlp = medspacy.load(
            medspacy_enable=["medspacy_target_matcher", "medspacy_context", "medspacy_sectionizer"]
        )
        # Before the findings and ConText: a modifier must not reach across a list's lines.
        nlp.add_pipe(SENTENCES_COMPONENT, before="medspacy_target_matcher")
        nlp.get_pipe("medspacy_sectionizer").add(
            [SectionRule(category=c, literal=literal) for c, literal in EXTRA_SECTION_HEADERS]
            + [
                SectionRule(
                    category=c, literal=" | ".join(literals), pattern=_at_line_start(literals)
                )
                for c, literals in _by_category(LINE_START_SECTION_HEADERS).items()
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
        readable = readable_part(note.text)
        copy = reading_copy(readable)
        doc = self._nlp(copy)
        sentences: list[Sentence] = []
        starts: list[int] = []
        for span in doc.sents:
            # Leading and trailing white space (as the NLP read it) is not part of a sentence.
            start, end = trimmed(note.text, copy, span.start_char, span.end_char)
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
        # "History of hypertension" names a chronic condition the patient has.
        current = set(current_chronic_conditions(copy, problems))
        findings = []
        for entity in problems:
            index = max(i for i, s in enumerate(starts) if s <= entity.start_char) if starts else 0
            assertion = _assertion(entity)
            if assertion is Assertion.PRESENT and any(
                start <= entity.start_char < end for start, end in denied
            ):
                assertion = Assertion.NEGATED
            if (
                assertion is Assertion.HISTORICAL
                and (entity.start_char, entity.end_char) in current
            ):
                assertion = Assertion.PRESENT
            findings.append(
                Finding(
                    concept=concept_of(entity.text),
                    text=note.text[entity.start_char : entity.end_char],
                    assertion=assertion,
                    section=entity._.section_category or OTHER_SECTION,
                    sentence=index,
                )
            )
        return NoteAnalysis(note, tuple(sentences), tuple(findings), len(note.text) - len(readable))


def _by_category(headers: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    literals: dict[str, list[str]] = {}
    for category, literal in headers:
        literals.setdefault(category, []).append(literal)
    return literals


def _at_line_start(literals: list[str]) -> str:
    """A regex for any of the literals at a line's start, after up to 3 spaces or tabs.

    The match starts at the literal itself (look-behinds, not `^[ \t]*`), so that it begins on
    a token: medspacy finds the token for a match that does not by scanning the whole note, and
    scanning the note afresh for each of a long note's headers took minutes. One regex per
    category, not per literal: medspacy joins the note's tokens into text again for each.
    """
    after = "|".join(f"(?<=^{indent})" for indent in ("", "[ \t]", "[ \t]{2}", "[ \t]{3}"))
    return f"(?m)(?:{after})(?:{'|'.join(re.escape(literal) for literal in literals)})"


def _section_of(doc: Any, token_index: int) -> str | None:
    category: str | None = doc[token_index]._.section_category
    return category
