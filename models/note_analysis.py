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

import bisect
import itertools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fhir_adapters.patient_record import ClinicalNote
from models.clinical_findings import FINDINGS

OTHER_SECTION = "other"
PROBLEM, TEST = "PROBLEM", "TEST"
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
    ("chief_complaint", "CC:"),
    ("past_medical_history", "PMH:"),
)
# Mentions that name a test, not a problem ("order a home sleep apnea test").
TEST_NAMES = ("sleep apnea test", "home sleep apnea test", "sleep study", "polysomnography")
# Negations ConText's defaults miss when they follow the finding ("pneumothorax ruled out").
EXTRA_NEGATIONS_AFTER = ("ruled out", "was ruled out", "has been ruled out", "excluded", "not seen")
POSSIBLE_AFTER = (
    "cannot be excluded",
    "can not be excluded",
    "could not be excluded",
    "not excluded",
    "cannot be ruled out",
)
# Triggers that govern a short phrase, not the rest of a comma-separated list: "migraine
# without aura, ..., anemia" and "not in labor force, anemia" do not deny the anemia, and
# "ondansetron as needed, ..., omeprazole for GERD" does not make the GERD hypothetical, while
# "No fever, chills or night sweats" (kept unbounded) does deny all three. In tokens.
SHORT_SCOPE_TRIGGERS = {"without": 4, "w/o": 4, "not": 6, "as needed": 3}
# "evaluate for X" looks for X: a possibility, where ConText's defaults read a denial.
LOOKING_FOR = ("evaluate for", "to evaluate for", "evaluation for", "assess for")
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
        from spacy.language import Language

        if not Language.has_factory(LINE_BREAKS_COMPONENT):
            Language.component(LINE_BREAKS_COMPONENT, func=_sentences_end_at_line_breaks)
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
        # ConText's default "ruled out" reads forward ("ruled out for PE") and so claims the
        # phrase in "pneumothorax ruled out": rebuilt with it requiring "for" or "against".
        nlp.remove_pipe("medspacy_context")
        context = nlp.add_pipe(
            "medspacy_context", config={"rules": None}, after="medspacy_target_matcher"
        )
        rules = [
            ConTextRule(
                rule.literal,
                rule.category,
                pattern=rule.pattern,
                direction=rule.direction,
                max_scope=SHORT_SCOPE_TRIGGERS.get(rule.literal.lower(), rule.max_scope),
            )
            for rule in ConTextRule.from_json(context.DEFAULT_RULES_FILEPATH)
            if not (rule.literal == "ruled out" and rule.direction == "FORWARD")
            and rule.literal.lower() not in LOOKING_FOR
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
            # Longer than the default backward "was negative", so "X was negative for Y"
            # denies Y.
            *(
                ConTextRule(f"{verb} negative for", "NEGATED_EXISTENCE", direction="FORWARD")
                for verb in ("was", "is", "are", "were")
            ),
            *(
                ConTextRule(literal, "POSSIBLE_EXISTENCE", direction="FORWARD")
                for literal in LOOKING_FOR
            ),
            # Longer than "excluded": a doubt, not a denial.
            *(
                ConTextRule(literal, "POSSIBLE_EXISTENCE", direction="BACKWARD")
                for literal in POSSIBLE_AFTER
            ),
        ]
        context.add(rules)
        nlp.get_pipe("medspacy_target_matcher").add(
            [TargetRule(literal, PROBLEM) for literals in FINDINGS.values() for literal in literals]
            + [TargetRule(name, TEST) for name in TEST_NAMES]
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
        findings = []
        for entity in doc.ents:
            if entity.label_ != PROBLEM:
                continue
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


_CONCEPT_OF = {
    literal.lower(): concept for concept, literals in FINDINGS.items() for literal in literals
}


def _concept(entity: Any) -> str:
    text: str = entity.text.lower()
    return _CONCEPT_OF.get(text, text)
