"""The note reader's vocabulary: the target matcher's rules and the concept each phrase names.

The phrases (models/clinical_findings.py) are matched on tokens. medspacy's tokenizer splits
some phrases by case ("T2DM" is one token, "t2dm" two), so each phrase is matched in every way
it can be tokenized. A mention is dropped when it is an ambiguous abbreviation without the
words that make it safe, or part of a procedure's name.
"""

from __future__ import annotations

import re
from typing import Any

from models.clinical_findings import CAPITALS_ONLY, FINDINGS, GUARDED_ABBREVIATIONS

PROBLEM, TEST = "PROBLEM", "TEST"
# Mentions that name a test, not a problem ("order a home sleep apnea test").
TEST_NAMES = (
    "sleep apnea test",
    "home sleep apnea test",
    "sleep study",
    "polysomnography",
    # ECG findings named after a segment, not the mood.
    "ST depression",
    "ST segment depression",
    "ST-segment depression",
    "PR depression",
    "PR segment depression",
    # Questionnaires Synthea lists under lab reports.
    "generalized anxiety disorder 7 item",
    "depression assessment panel",
)
# Synthea's lists of what was done ("- assessment of anxiety (procedure)", "- urine screening
# test for diabetes (procedure)"): a finding named in a procedure is not the patient's problem.
_NAMES_A_PROCEDURE = re.compile(r"[^\n]*?\((?:procedure|regime/therapy)\)")
_CONCEPT_OF = {
    literal.lower(): concept
    for vocabulary in (FINDINGS, CAPITALS_ONLY)
    for concept, literals in vocabulary.items()
    for literal in literals
} | {abbreviation.lower(): guard[0] for abbreviation, guard in GUARDED_ABBREVIATIONS.items()}


def concept_of(mention: str) -> str:
    """The concept a matched phrase names (the phrase itself when it is not in the vocabulary)."""
    return _CONCEPT_OF.get(mention.lower(), mention.lower())


def abbreviation_is_safe(text: str, start: int, end: int) -> bool:
    """Whether a mention is not a guarded abbreviation, or has the words that make it safe."""
    guard = GUARDED_ABBREVIATIONS.get(text[start:end])
    if guard is None:
        return True
    _, before, after = guard
    return bool(
        re.search(before, text[max(0, start - 30) : start], re.IGNORECASE)
        or re.search(after, text[end : end + 40], re.IGNORECASE)
    )


def names_a_procedure(text: str, end: int) -> bool:
    """Whether a mention ending at `end` is part of a procedure's name on its line."""
    return _NAMES_A_PROCEDURE.match(text, end) is not None


def _token_variants(tokenizer: Any, phrase: str) -> list[list[str]]:
    """The distinct token sequences (lower-cased) a phrase can have in a note."""
    variants: list[list[str]] = []
    for written in (phrase, phrase.lower(), phrase.upper(), phrase.capitalize()):
        tokens = [token.lower_ for token in tokenizer(written)]
        if tokens not in variants:
            variants.append(tokens)
    return variants


def target_rules(tokenizer: Any) -> list[Any]:
    """The target matcher's rules: every finding phrase, the capitals-only and guarded
    abbreviations, and the names of tests."""
    from medspacy.ner import TargetRule

    rules = [
        TargetRule(literal, PROBLEM, pattern=[{"LOWER": token} for token in tokens])
        for literals in FINDINGS.values()
        for literal in literals
        for tokens in _token_variants(tokenizer, literal)
    ]
    rules += [
        TargetRule(literal, PROBLEM, pattern=[{"ORTH": literal}])
        for literals in CAPITALS_ONLY.values()
        for literal in literals
    ]
    rules += [TargetRule(a, PROBLEM, pattern=[{"ORTH": a}]) for a in GUARDED_ABBREVIATIONS]
    return rules + [TargetRule(name, TEST) for name in TEST_NAMES]
