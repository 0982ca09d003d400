"""Where a clinical note's sentences start: line layout first, then terminal punctuation.

A rule-based splitter in place of PyRuSH: a chart's notes are split in milliseconds, not a
second, and nothing is logged (PyRuSH, through PyFastNER, logs to the root logger as it reads).

Two kinds of boundary:

- A line break ends a sentence unless the line can be a hard wrap. It cannot when the line ends
  in terminal punctuation, ";" or ":" ("ASSESSMENT AND PLAN:"), next to a blank line, when the
  next line opens a list item, a Markdown header or a label ("Vitals:"), after a Markdown
  header, after a title in capitals, and after a list item when the next line starts at the
  margin in sentence case.
- Inside a line, ".", "!" or "?" (with any closing quote or bracket) ends a sentence when white
  space and a capital, digit, list marker or quote follow, except after an abbreviation (Dr.,
  e.g., b.i.d., 10 a.m., "No. 2"), a person's initial ("J. Smith"), a list number ("1. Type 2
  diabetes") or an ellipsis. Decimals (7.2%, 1.5 mg) never qualify: no white space follows
  their point. Semicolons never end a sentence.

`mark_sentence_starts` is the spaCy component (`SENTENCES_COMPONENT`), registered by
`register()`, so `doc.sents` works without a parser.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

SENTENCES_COMPONENT = "cdss_sentences"
# spaCy's SENT_START values, as `Doc.from_array` takes them (-1 as an unsigned 64-bit integer).
_SENTENCE_START = 1
_NOT_SENTENCE_START = 2**64 - 1

# A line break ends a sentence unless it can be a hard wrap: before a list item or header,
# after terminal punctuation, or around a blank line.
_NEXT_LINE_STARTS_ITEM = re.compile(r"\s*(?:[-*\u2022#]|\d{1,2}[.)])")
_LINE_END_PUNCTUATION = ".:;!?"
# "# Plan": a Markdown header is a line of its own, wherever the next line goes.
_MARKDOWN_HEADER_LINE = re.compile(r"[ \t]*#{1,6}[ \t]")
# A line that opens with a label ("Vitals:", "Discharge medications:", "HPI:") starts afresh,
# as does "2 No syncope": the reading copy's "2.No syncope" keeps no full stop for the list rule.
_NEXT_LINE_STARTS_LABEL = re.compile(
    r"[ \t]*(?:[A-Z][A-Za-z/&-]*(?:[ \t]+[A-Za-z0-9/&()-]+){0,4}:(?!\S)|\d{1,2} [A-Z][a-z])"
)
# A title line in capitals ("HEART FAILURE CLINIC VISIT") before a line in sentence case; a
# wrap in a note written in capitals ("NO FEVER, CHILLS OR\nNIGHT SWEATS") stays joined.
_NO_LOWER_CASE_OR_DIGIT = re.compile(r"[^a-z0-9]+")
_TWO_CAPITALS = re.compile(r"[A-Z]{2}")
_SENTENCE_CASE = re.compile(r"[ \t]*[A-Z][a-z]")
# A list item is a line of its own before a line in sentence case at the margin ("- injection
# (procedure)" then "The patient was prescribed ..."); a wrapped item goes on indented or in
# lower case.
_LIST_ITEM_LINE = re.compile(r"[ \t]*(?:[-*\u2022]|\d{1,2}[.)]|\d{1,2} [A-Z][a-z])")
_SENTENCE_CASE_AT_MARGIN = re.compile(r"[A-Z][a-z]")
# A line under both lengths, before a capital at the margin, is not a wrap (see
# `_short_line_length`).
SHORT_LINE_CHARACTERS = 40
SHORT_LINE_SHARE = 0.6
_CAPITAL_AT_MARGIN = re.compile(r"[A-Z]")

# Terminal punctuation, any closing quotes or brackets, then white space before the next word.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+")
# "eGFR 74", "pH 7.31": an acronym led by a lower-case letter opens a sentence as a capital does.
_LOWER_CASE_ACRONYM = re.compile(r"[a-z][A-Z]")
_ELLIPSIS = "\u2026"
_LIST_MARKERS = "-*\u2022#"
_OPENING_QUOTES = "\"'\u201c\u2018"
# Abbreviations a full stop does not end (lower case, without their last full stop). Dotted
# forms such as "e.g", "b.i.d" and "a.m" are recognised by shape (`_DOTTED_ABBREVIATION`).
ABBREVIATIONS = frozenset(
    {
        # Titles and names.
        "dr", "mr", "mrs", "ms", "prof", "sr", "jr", "st",
        # Patient, approximately, versus, and so on.
        "pt", "pts", "approx", "vs", "etc", "cf", "al", "viz", "incl",
        # Dose units a drug list uses.
        "mg",
    }
)  # fmt: skip
# "No. 2": number, only when a digit follows.
_NUMBER_ABBREVIATION = "no"
# e.g, i.e, b.i.d, t.i.d, q.d, p.o, p.r.n, q.h.s, a.m, p.m, M.D, Ph.D (the last full stop cut).
_DOTTED_ABBREVIATION = re.compile(r"[A-Za-z]{1,2}(?:\.[A-Za-z]{1,2})+")
# "1. Type 2 diabetes", "iv. Stable": a list number opens its line or follows a sentence end.
_LIST_NUMBER = re.compile(r"\d{1,2}|[ivx]{1,4}|[IVX]{1,4}")
_BEFORE_LIST_NUMBER = ".:;!?)"
# Words that name a single capital letter as a designation, not a person's initial: "vitamin
# C. Recheck" and "hepatitis B. Vaccinated" end there.
LETTER_DESIGNATIONS = frozenset(
    {
        "vitamin", "hepatitis", "hep", "type", "grade", "group", "class", "factor", "stage",
        "lead", "appendix", "part", "zone", "phase", "level", "step", "schedule", "category",
        "protein", "influenza", "strep", "streptococcus", "plan", "option",
    }
)  # fmt: skip
# "A. No acute distress": the reading copy turns "A: No" into "A. No" so that the "No" opens a
# sentence of its own; an initial is never followed by a bare "No".
_NEGATION_OPENING = re.compile(r"[Nn]o\b")
# Opening characters that do not belong to the word a full stop ends: "(approx. 5 mg".
_LEADING_PUNCTUATION = "([{\"'\u201c\u2018"


def sentence_ending_line_breaks(text: str) -> list[int]:
    """Offsets of the line breaks that end a sentence (see `_NEXT_LINE_STARTS_ITEM`)."""
    breaks = []
    offset = 0
    lines = text.split("\n")
    short = _short_line_length(lines)
    for current, following in itertools.pairwise(lines):
        offset += len(current) + 1
        ends = current.rstrip()
        if (
            not ends
            or not following.strip()
            or ends[-1] in _LINE_END_PUNCTUATION
            or _NEXT_LINE_STARTS_ITEM.match(following)
            or _MARKDOWN_HEADER_LINE.match(current)
            or _NEXT_LINE_STARTS_LABEL.match(following)
            or (_is_title_line(ends) and _SENTENCE_CASE.match(following))
            or (_LIST_ITEM_LINE.match(current) and _SENTENCE_CASE_AT_MARGIN.match(following))
            or (len(ends) < short and _CAPITAL_AT_MARGIN.match(following))
        ):
            breaks.append(offset - 1)
    return breaks


def _short_line_length(lines: list[str]) -> int:
    """Lines shorter than this were ended on purpose: a hard wrap fills its line.

    A form's answers and a problem list ("Surgical history", "None", "Hypertension") are short
    lines; a paragraph wrapped at 60-80 columns breaks only lines near its width.
    """
    longest = max((len(line.rstrip()) for line in lines), default=0)
    return min(SHORT_LINE_CHARACTERS, int(longest * SHORT_LINE_SHARE))


def _is_title_line(line: str) -> bool:
    return bool(_NO_LOWER_CASE_OR_DIGIT.fullmatch(line) and _TWO_CAPITALS.search(line))


def trimmed(text: str, copy: str, start: int, end: int) -> tuple[int, int]:
    """A sentence's span without the white space around it, in the note or its reading copy."""
    while start < end and (copy[start].isspace() or text[start].isspace()):
        start += 1
    while end > start and (copy[end - 1].isspace() or text[end - 1].isspace()):
        end -= 1
    return start, end


def sentence_starts(text: str) -> list[int]:
    """Character offsets where the text's sentences start, sorted; the first is its first word."""
    first = len(text) - len(text.lstrip())
    if first == len(text):
        return []
    starts = {first}
    for offset in sentence_ending_line_breaks(text):
        start = _next_word(text, offset + 1)
        if start < len(text):
            starts.add(start)
    for end in _SENTENCE_END.finditer(text):
        start = end.end()
        if start < len(text) and _ends_sentence(text, end.start(), start):
            starts.add(start)
    return sorted(starts)


def _next_word(text: str, offset: int) -> int:
    while offset < len(text) and text[offset].isspace():
        offset += 1
    return offset


def _ends_sentence(text: str, punctuation: int, following: int) -> bool:
    """Whether the terminal punctuation at `punctuation` ends the sentence before `following`."""
    opening = text[following]
    if not (
        opening.isupper()
        or opening.isdigit()
        or opening in _LIST_MARKERS
        or opening in _OPENING_QUOTES
        or _LOWER_CASE_ACRONYM.match(text, following)
    ):
        return False
    if text.startswith("..", punctuation) or text[punctuation] == _ELLIPSIS:
        return False  # an ellipsis trails off; the sentence may go on
    if text[punctuation] != ".":
        return True  # "!" and "?" follow no abbreviation
    word_start = punctuation
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:punctuation].lstrip(_LEADING_PUNCTUATION)
    lower = word.lower()
    if lower in ABBREVIATIONS or _DOTTED_ABBREVIATION.fullmatch(word):
        return False
    if lower == _NUMBER_ABBREVIATION and opening.isdigit():
        return False
    if _LIST_NUMBER.fullmatch(word) and _opens_list_item(text, word_start):
        return False
    if len(word) == 1 and word.isupper():
        return _is_designation(text, word_start) or bool(_NEGATION_OPENING.match(text, following))
    return True


def _opens_list_item(text: str, word_start: int) -> bool:
    """Whether the word at `word_start` opens its line or follows a sentence or label end."""
    line_start = text.rfind("\n", 0, word_start) + 1
    before = text[line_start:word_start].rstrip()
    return not before.strip(_LIST_MARKERS + " \t") or before[-1] in _BEFORE_LIST_NUMBER


def _is_designation(text: str, letter: int) -> bool:
    """Whether the capital at `letter` names a thing ("vitamin D", "38.4 C"), not a person."""
    previous_end = letter
    while previous_end > 0 and text[previous_end - 1] in " \t":
        previous_end -= 1
    previous_start = previous_end
    while previous_start > 0 and not text[previous_start - 1].isspace():
        previous_start -= 1
    previous = text[previous_start:previous_end]
    return previous[-1:].isdigit() or previous.lower() in LETTER_DESIGNATIONS


def mark_sentence_starts(doc: Any) -> Any:
    """spaCy component: the token at or after each sentence start opens one; no other token does."""
    import numpy
    from spacy.attrs import IDX, SENT_START

    if not len(doc):
        return doc
    # The token at or after each start; the first sentence opens at the first token, white space
    # before its first word included.
    opening = numpy.searchsorted(doc.to_array(IDX), sentence_starts(doc.text)[1:])
    # 1 opens a sentence, -1 does not; set in one array because each `token.is_sent_start = ...`
    # scans the whole doc for a parse, which makes a note's worth of tokens quadratic.
    flags = numpy.full((len(doc), 1), _NOT_SENTENCE_START, dtype="uint64")
    flags[opening[opening < len(doc)], 0] = _SENTENCE_START
    flags[0, 0] = _SENTENCE_START
    doc.from_array([SENT_START], flags)
    return doc


def register() -> None:
    """Make `SENTENCES_COMPONENT` known to spaCy (once per process; later calls do nothing)."""
    from spacy.language import Language

    if not Language.has_factory(SENTENCES_COMPONENT):
        Language.component(SENTENCES_COMPONENT, func=mark_sentence_starts)
