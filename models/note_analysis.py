"""A clinical note read for the summary: sentences as exact spans, sections, asserted findings.

Everything shown from a note is a slice of its own text (`Sentence.text == note.text[start:end]`),
so the summary can never say what the note does not. The NLP runs on a same-length copy in
which a few layouts that defeat it are undone ("1.No fever" is read as "1 No fever"; a literal
"\\n" as a line break), so every offset found in the copy is an offset in the original.

medspacy (1.3.1) does the reading: PyRuSH sentences, its sectionizer with the headers its
defaults miss (ASSESSMENT AND PLAN, IMPRESSION, SOAP S:/O:/A:/P:), and ConText for negation,
possibility, hypotheticals, history and family. Loaded once per process (`ClinicalReader.load`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fhir_adapters.patient_record import ClinicalNote
from models.clinical_findings import FINDINGS

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
# Negations ConText's defaults miss when they follow the finding ("pneumothorax ruled out").
EXTRA_NEGATIONS_AFTER = ("ruled out", "was ruled out", "has been ruled out", "excluded", "not seen")
# "1.No fever" -> "1 No fever": a list number glued to the next word hides a negation trigger.
_GLUED_LIST_NUMBER = re.compile(r"(?m)(?:^|(?<=\s))(\d{1,2})\.(?=[A-Za-z])")
_LITERAL_NEWLINE = "\\n"


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
        from loguru import logger

        # PyRuSH logs every token at DEBUG through loguru: note text must not reach a log.
        logger.disable("PyRuSH")
        import medspacy
        from medspacy.context import ConTextRule
        from medspacy.ner import TargetRule
        from medspacy.section_detection import SectionRule

        nlp = medspacy.load(
            medspacy_enable=[
                "medspacy_pyrush",
                "medspacy_target_matcher",
                "medspacy_context",
                "medspacy_sectionizer",
            ]
        )
        nlp.get_pipe("medspacy_sectionizer").add(
            [SectionRule(category=c, literal=literal) for c, literal in EXTRA_SECTION_HEADERS]
        )
        # ConText's default "ruled out" reads forward ("ruled out for PE") and so claims the
        # phrase in "pneumothorax ruled out": rebuilt with it requiring "for" or "against".
        nlp.remove_pipe("medspacy_context")
        context = nlp.add_pipe(
            "medspacy_context", config={"rules": None}, after="medspacy_target_matcher"
        )
        rules = [
            rule
            for rule in ConTextRule.from_json(context.DEFAULT_RULES_FILEPATH)
            if not (rule.literal == "ruled out" and rule.direction == "FORWARD")
        ]
        rules += [
            *(
                ConTextRule(f"{lead}ruled out {word}", "NEGATED_EXISTENCE", direction="FORWARD")
                for lead in ("", "was ", "is ", "been ", "has been ", "have been ", "had been ")
                for word in ("for", "against")
            ),
            *(
                ConTextRule(literal, "NEGATED_EXISTENCE", direction="BACKWARD")
                for literal in EXTRA_NEGATIONS_AFTER
            ),
        ]
        context.add(rules)
        nlp.get_pipe("medspacy_target_matcher").add(
            [
                TargetRule(literal, "PROBLEM")
                for literals in FINDINGS.values()
                for literal in literals
            ]
        )
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
            while start < end and copy[start].isspace():
                start += 1
            while end > start and copy[end - 1].isspace():
                end -= 1
            if start == end:
                continue
            section = _section_of(doc, span.start) or OTHER_SECTION
            sentences.append(Sentence(start, end, note.text[start:end], section))
            starts.append(span.start_char)
        findings = []
        for entity in doc.ents:
            index = max(i for i, s in enumerate(starts) if s <= entity.start_char) if starts else 0
            findings.append(
                Finding(
                    concept=_concept(entity),
                    text=note.text[entity.start_char : entity.end_char],
                    assertion=_assertion(entity),
                    section=entity._.section_category or OTHER_SECTION,
                    sentence=index,
                )
            )
        return NoteAnalysis(note, tuple(sentences), tuple(findings))


def _section_of(doc: Any, token_index: int) -> str | None:
    category: str | None = doc[token_index]._.section_category
    return category


_CONCEPT_OF = {
    literal.lower(): concept for concept, literals in FINDINGS.items() for literal in literals
}


def _concept(entity: Any) -> str:
    text: str = entity.text.lower()
    return _CONCEPT_OF.get(text, text)
